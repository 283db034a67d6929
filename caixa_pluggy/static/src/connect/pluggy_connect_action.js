/** @odoo-module **/
import { registry } from "@web/core/registry";
import { Component } from "@odoo/owl";

export class PluggyConnectAction extends Component {
    static template = "caixa_pluggy.PluggyConnectAction";
    static props = ["*"];
}

registry.category("actions").add("caixa_pluggy.connect", PluggyConnectAction);
