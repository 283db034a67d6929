/** @odoo-module **/
/**
 * "Connect bank": a client action, shown in a dialog, that opens the Pluggy Connect widget.
 *
 * Flow: ask Odoo for a fresh connect token, load the Connect script from the configured URL, open the widget;
 * when the bank login succeeds, hand the item id to Odoo (which re-reads it from Pluggy, never trusting the
 * browser) and open the connection with its journals. With params.item_id the widget opens in update mode
 * (reconnect) for that connection.
 */
import { Component, onMounted, onWillDestroy, status, useState } from "@odoo/owl";
import { loadJS } from "@web/core/assets";
import { _t } from "@web/core/l10n/translation";
import { ConnectionLostError, rpc, RPCError } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";
import { useService } from "@web/core/utils/hooks";

export class PluggyConnectAction extends Component {
    static template = "caixa_pluggy.PluggyConnectAction";
    static props = ["*"];
    // Also a dialog when opened from Python without a target (the connection form's Reconnect button).
    static target = "new";

    setup() {
        this.action = useService("action");
        this.notification = useService("notification");
        this.itemId = this.props.action.params?.item_id || false;
        this.state = useState({
            step: "token", // token -> script -> widget -> saving; or error
            bankName: "",
            error: "",
            canOpenSettings: false,
        });
        this.widget = null;
        this.succeeded = false;
        onMounted(() => this.start());
        // Closing the dialog (Cancel, Escape, another action) must also remove the widget's own modal.
        onWillDestroy(() => this.destroyWidget());
    }

    get isUpdate() {
        return Boolean(this.itemId);
    }

    get statusText() {
        switch (this.state.step) {
            case "token":
                return _t("Preparing a secure connection with Pluggy…");
            case "script":
                return _t("Loading Pluggy Connect…");
            case "widget":
                return _t("Log in to your bank in the Pluggy Connect window.");
            case "saving":
                return this.state.bankName
                    ? _t("%s connected. Setting up its journals and importing the latest transactions…",
                          this.state.bankName)
                    : _t("Bank connected. Setting up its journals and importing the latest transactions…");
        }
        return "";
    }

    // -------------------------------------------------------------------------
    // Flow
    // -------------------------------------------------------------------------

    async start() {
        let token;
        try {
            token = await rpc("/caixa_pluggy/connect_token", { item_id: this.itemId });
        } catch (error) {
            // The token route says in plain words what is wrong (credentials unset, Pluggy refused them...):
            // both are fixed in Settings.
            this.showError(error, { canOpenSettings: user.isSystem });
            return;
        }
        if (this.isGone) {
            return;
        }
        this.state.step = "script";
        const PluggyConnect = await this.loadSdk(token.sdk_url);
        if (!PluggyConnect || this.isGone) {
            return;
        }
        this.openWidget(PluggyConnect, token);
    }

    async loadSdk(url) {
        try {
            await loadJS(url);
        } catch {
            // loadJS only says "failed": the message below tells the admin where to look.
        }
        if (this.isGone) {
            return null;
        }
        if (typeof window.PluggyConnect !== "function") {
            this.showError(
                _t(
                    "The Pluggy Connect script could not be loaded from %s. Check the Pluggy Connect Script URL in Settings and that this browser can reach it.",
                    url
                ),
                { canOpenSettings: user.isSystem }
            );
            return null;
        }
        return window.PluggyConnect;
    }

    openWidget(PluggyConnect, token) {
        this.state.step = "widget";
        const options = {
            connectToken: token.connect_token,
            includeSandbox: Boolean(token.include_sandbox),
            language: "pt",
            onSuccess: (payload) => this.onSuccess(payload),
            onError: (payload) => this.onError(payload),
            onEvent: (payload) => this.onEvent(payload),
            onClose: () => this.onClose(),
        };
        if (token.update_item) {
            options.updateItem = token.update_item;
        }
        try {
            this.widget = new PluggyConnect(options);
            // init() renders the widget's own modal over Odoo; it resolves once open, not when done.
            Promise.resolve(this.widget.init()).catch((error) => this.showError(error));
        } catch (error) {
            this.showError(error);
        }
    }

    // -------------------------------------------------------------------------
    // Widget callbacks
    // -------------------------------------------------------------------------

    async onSuccess({ item }) {
        if (this.succeeded || this.isGone) {
            return;
        }
        this.succeeded = true;
        this.state.bankName ||= item.connector?.name || "";
        this.state.step = "saving";
        let result;
        try {
            result = await rpc("/caixa_pluggy/callback", { item_id: item.id });
        } catch (error) {
            this.destroyWidget();
            this.showError(error);
            return;
        }
        this.destroyWidget();
        this.notifyConnected(result.journal_ids.length);
        if (this.isUpdate) {
            // Back to the connection the user reconnected from: closing the dialog reloads it.
            await this.close();
            return;
        }
        await this.action.doAction("caixa_pluggy.action_pluggy_item", {
            viewType: "form",
            props: { resId: result.connection_id },
        });
    }

    onError({ message }) {
        if (this.isGone) {
            return;
        }
        // The widget shows the error too and lets the user try again; the notification outlives it.
        const text =
            message ||
            _t("Pluggy could not connect to the bank. Check your login in the Pluggy window and try again.");
        this.notification.add(text, { title: _t("Pluggy Connect"), type: "danger" });
    }

    onEvent({ event, connector }) {
        if (event === "SELECTED_INSTITUTION") {
            this.state.bankName = connector?.name || "";
        }
    }

    onClose() {
        // After a success the callback may still be running: the dialog stays to show how it ends.
        if (!this.succeeded && !this.isGone) {
            this.close();
        }
    }

    // -------------------------------------------------------------------------
    // Helpers
    // -------------------------------------------------------------------------

    get isGone() {
        return status(this) === "destroyed";
    }

    notifyConnected(journalCount) {
        let message;
        if (this.isUpdate) {
            message = _t("Bank reconnected.");
        } else if (journalCount === 1) {
            message = _t("Bank connected: 1 journal ready");
        } else {
            message = _t("Bank connected: %s journals ready", journalCount);
        }
        this.notification.add(message, { type: "success" });
    }

    showError(error, { canOpenSettings = false } = {}) {
        if (this.isGone) {
            return;
        }
        if (error instanceof RPCError) {
            this.state.error = error.data?.message || error.message;
        } else if (error instanceof ConnectionLostError) {
            this.state.error = _t("Odoo could not be reached. Check your connection and try again.");
        } else if (typeof error === "string") {
            this.state.error = error;
        } else {
            this.state.error =
                error?.message || _t("Pluggy Connect stopped unexpectedly. Close this window and try again.");
        }
        this.state.canOpenSettings = canOpenSettings;
        this.state.step = "error";
    }

    destroyWidget() {
        const widget = this.widget;
        this.widget = null;
        if (widget) {
            Promise.resolve(widget.destroy()).catch(() => {});
        }
    }

    close() {
        return this.action.doAction({ type: "ir.actions.act_window_close" });
    }

    openSettings() {
        return this.action.doAction("account.action_account_config");
    }
}

registry.category("actions").add("caixa_pluggy.connect", PluggyConnectAction);
