/** @odoo-module **/
/**
 * Steps inside the emulator's Pluggy Connect stand-in, shared by the tours. It renders a plain DOM modal outside
 * Odoo's dialog: its selectors start with "body" so that the tour runner accepts an element that is not in the
 * topmost Odoo modal.
 */

export const WIDGET = "body #pluggy-connect-stub";
export const PLUGGY_BANK = `${WIDGET} .pluggy-connect-connector:has(span:contains(/^Pluggy Bank$/))`;

/** Log in to the bank with the sandbox user, on the widget's login form. */
export function logInSteps(content = "Log in to the bank") {
    return [
        {
            content: "Type the sandbox user",
            trigger: `${WIDGET} form.pluggy-connect-login input[name=user]`,
            run: "edit user-ok",
        },
        {
            content: "Type the sandbox password",
            trigger: `${WIDGET} form.pluggy-connect-login input[name=password]`,
            run: "edit password-ok",
        },
        {
            content,
            trigger: `${WIDGET} .pluggy-connect-submit`,
            run: "click",
        },
    ];
}

/** Pick Pluggy Bank in the widget's list of banks, then log in. */
export function connectPluggyBankSteps() {
    return [
        {
            content: "Pluggy Connect lists the sandbox banks; pick Pluggy Bank",
            trigger: PLUGGY_BANK,
            run: "click",
        },
        ...logInSteps(),
    ];
}
