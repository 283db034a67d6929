/** @odoo-module **/
/**
 * Tours of the "Connect bank" widget, run by caixa_pluggy/tests/test_connect_tour.py against the local Pluggy
 * emulator and its Connect stand-in (see ./utils/pluggy_connect_steps.js).
 */
import { registry } from "@web/core/registry";
import {
    connectPluggyBankSteps,
    logInSteps,
    PLUGGY_BANK,
    WIDGET,
} from "@caixa_pluggy/../tests/tours/utils/pluggy_connect_steps";

registry.category("web_tour.tours").add("caixa_pluggy_connect_bank", {
    url: "/odoo/action-account.open_account_journal_dashboard_kanban",
    steps: () => [
        {
            content: "Connect a bank from the Accounting dashboard",
            trigger: ".o_control_panel button:contains(Connect bank)",
            run: "click",
        },
        ...connectPluggyBankSteps(),
        {
            content: "Odoo says how many journals are ready",
            trigger: ".o_notification:contains(/Bank connected: \\d+ journals ready/)",
        },
        {
            content: "The new connection opens, named after its bank",
            trigger: ".o_form_view .oe_title [name=name]:contains(/^Pluggy Bank$/)",
        },
        {
            content: "The widget and the dialog are gone",
            trigger: "body:not(:has(#pluggy-connect-stub)):not(:has(.o_caixa_pluggy_connect))",
        },
        {
            content: "Its first account is linked to a journal",
            trigger: ".o_field_widget[name=account_ids] .o_data_row:eq(0) td[name=journal_id]:contains(/\\w/)",
        },
        {
            content: "Its second account is linked to a journal too",
            trigger: ".o_field_widget[name=account_ids] .o_data_row:eq(1) td[name=journal_id]:contains(/\\w/)",
        },
    ],
});

registry.category("web_tour.tours").add("caixa_pluggy_connect_cancel", {
    url: "/odoo/action-caixa_pluggy.action_pluggy_item",
    steps: () => [
        {
            content: "Connect a bank from the connections list",
            trigger: ".o_control_panel button:contains(Connect bank)",
            run: "click",
        },
        {
            content: "Pluggy Connect opens",
            trigger: PLUGGY_BANK,
        },
        {
            content: "Close the widget without connecting",
            trigger: `${WIDGET} .pluggy-connect-close`,
            run: "click",
        },
        {
            content: "The dialog closes with it and the list is back",
            trigger: "body:not(:has(.o_caixa_pluggy_connect)) .o_list_view",
        },
    ],
});

registry.category("web_tour.tours").add("caixa_pluggy_connect_script_unreachable", {
    url: "/odoo/action-caixa_pluggy.action_pluggy_item",
    steps: () => [
        {
            content: "Connect a bank from the connections list",
            trigger: ".o_control_panel button:contains(Connect bank)",
            run: "click",
        },
        {
            content: "The dialog says plainly that the script could not be loaded, and from where",
            trigger: ".o_caixa_pluggy_connect_error:contains(The Pluggy Connect script could not be loaded from http):contains(/missing-pluggy-connect.js)",
        },
        {
            content: "Close the dialog",
            trigger: ".modal .o_caixa_pluggy_close",
            run: "click",
        },
        {
            content: "The list is back",
            trigger: "body:not(:has(.o_caixa_pluggy_connect)) .o_list_view",
        },
    ],
});

registry.category("web_tour.tours").add("caixa_pluggy_connect_no_credentials", {
    url: "/odoo/action-caixa_pluggy.action_pluggy_item",
    steps: () => [
        {
            content: "Connect a bank from the connections list",
            trigger: ".o_control_panel button:contains(Connect bank)",
            run: "click",
        },
        {
            content: "The dialog says where to set the credentials",
            trigger: ".o_caixa_pluggy_connect_error:contains(Set your Pluggy credentials)",
        },
        {
            content: "An administrator can go straight to Settings",
            trigger: ".modal .o_caixa_pluggy_settings",
            run: "click",
        },
        {
            content: "Settings open on the Pluggy block",
            trigger: ".o_setting_box:contains(Pluggy credentials)",
        },
    ],
});

registry.category("web_tour.tours").add("caixa_pluggy_reconnect_bank", {
    steps: () => [
        {
            content: "The bank refused the last login: reconnect from the connection",
            trigger: ".o_form_view .o_form_statusbar button[name=action_open_connect]",
            run: "click",
        },
        {
            content: "Pluggy Connect asks for this connection's bank login, with no way to pick another bank",
            trigger: `${WIDGET} form.pluggy-connect-login:has(.pluggy-connect-connector-name:contains(/^Pluggy Bank$/)):not(:has(.pluggy-connect-back:visible))`,
        },
        ...logInSteps("Log in to the bank again"),
        {
            content: "Odoo confirms the reconnection",
            trigger: ".o_notification:contains(Bank reconnected.)",
        },
        {
            content: "Back on the same connection, which no longer asks to be reconnected",
            trigger: "body:not(:has(.o_caixa_pluggy_connect)) .o_form_view:not(:has(button[name=action_open_connect])) .oe_title [name=name]:contains(/^Pluggy Bank$/)",
        },
    ],
});
