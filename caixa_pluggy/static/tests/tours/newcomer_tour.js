/** @odoo-module **/
/**
 * A newcomer's first hour on the demo database, run by caixa_pluggy/tests/test_newcomer_tour.py: log in as
 * admin/admin, open the accounting app, connect a bank through the Pluggy Connect widget (the emulator's
 * stand-in), sync it, and reconcile one imported PIX against the open invoice it pays in OCA's reconciliation
 * screen (account_reconcile_oca, installed by the demo, not a dependency of caixa_pluggy).
 */
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";
import { connectPluggyBankSteps } from "@caixa_pluggy/../tests/tours/utils/pluggy_connect_steps";

// The customer the test registers with the CNPJ of the PIX's payer: the sync sets it on the imported line.
const CUSTOMER = "Padaria Pão de Ouro Ltda";
const RECONCILE = ".o_account_reconcile_oca";
const PIX_CARD = `${RECONCILE} .o_kanban_record:has(.o_field_widget[name=partner_id]:contains(${CUSTOMER}))`;
const FORM = `${RECONCILE} .o_account_reconcile_oca_info`;

registry.category("web_tour.tours").add("caixa_pluggy_newcomer", {
    url: "/web/login",
    steps: () => [
        {
            content: "Type the demo's login",
            trigger: "form.oe_login_form input#login",
            run: "edit admin",
        },
        {
            content: "Type the demo's password",
            trigger: "form.oe_login_form input#password",
            run: "edit admin",
        },
        {
            content: "Log in",
            trigger: "form.oe_login_form button:contains(Log in)",
            run: "click",
        },
        ...stepUtils.goToAppSteps("account.menu_finance", "Open the accounting app"),
        {
            content: "The accounting dashboard offers to connect a bank",
            trigger: ".o_account_dashboard_kanban_view .o_control_panel button:contains(Connect bank)",
            run: "click",
        },
        ...connectPluggyBankSteps(),
        {
            content: "Odoo says how many journals are ready",
            trigger: ".o_notification:contains(/Bank connected: \\d+ journals ready/)",
            timeout: 30000,
        },
        {
            content: "The new connection opens with its accounts linked to journals",
            trigger: "body:not(:has(#pluggy-connect-stub)) .o_form_view .o_field_widget[name=account_ids] .o_data_row td[name=journal_id]:contains(/\\w/)",
        },
        {
            content: "Sync the history now",
            trigger: ".o_form_view .o_form_statusbar button[name=action_sync_now]",
            run: "click",
        },
        {
            content: "Odoo says how many lines arrived",
            trigger: ".o_notification:contains(/[1-9]\\d* new lines/)",
            // The history of two accounts: Odoo takes about 0.1 s per line, more on a busy machine.
            timeout: 60000,
        },
        {
            content: "The new lines open in the reconciliation screen; pick the PIX the customer paid",
            trigger: PIX_CARD,
            run: "click",
        },
        {
            content: "The PIX opens beside the invoice it pays, proposed by Odoo: reconcile them",
            trigger: `${FORM}:has(.o_reconcile_widget_table:contains(${CUSTOMER})) button[name=reconcile_bank_line]:not(.disabled)`,
            run: "click",
        },
        {
            content: "The PIX no longer waits for reconciliation",
            trigger: `${RECONCILE}:not(:has(.o_kanban_record:has(.o_field_widget[name=partner_id]:contains(${CUSTOMER})):not(:has(.badge:contains(Reconciled)))))`,
        },
    ],
});
