/*
 * Pluggy Connect stand-in, served by the local Pluggy emulator at /connect/pluggy-connect.js.
 * Same global API as the real SDK (pluggy-connect-sdk 2.x): new PluggyConnect({connectToken, ...}).init().
 * It renders a plain DOM modal (no iframe) so browser tours can click inside it. See README.md for selectors.
 */
(function (global) {
    "use strict";

    var script = document.currentScript;
    var SCRIPT_BASE = script && script.src ? script.src.replace(/\/connect\/pluggy-connect\.js.*$/, "") : "";
    var STYLE_ID = "pluggy-connect-stub-style";
    var TEXT = {
        pt: {
            title: "Conectar conta", search: "Buscar instituição", user: "Usuário", password: "Senha",
            submit: "Conectar", back: "Voltar", close: "Fechar", loading: "Conectando…", done: "Concluir",
            success: "Conta conectada com sucesso!", empty: "Nenhuma instituição encontrada",
            invalidToken: "Token de conexão inválido ou expirado",
        },
        en: {
            title: "Connect account", search: "Search institution", user: "User", password: "Password",
            submit: "Connect", back: "Back", close: "Close", loading: "Connecting…", done: "Done",
            success: "Account connected successfully!", empty: "No institution found",
            invalidToken: "Invalid or expired connect token",
        },
    };
    var CSS =
        ".pluggy-connect-stub{position:fixed;inset:0;z-index:100000;display:flex;align-items:center;" +
        "justify-content:center;background:rgba(0,0,0,.45);font-family:sans-serif}" +
        ".pluggy-connect-dialog{background:#fff;color:#222;width:380px;max-width:95vw;max-height:90vh;" +
        "overflow:auto;border-radius:8px;padding:16px;box-shadow:0 8px 32px rgba(0,0,0,.3)}" +
        ".pluggy-connect-header{display:flex;justify-content:space-between;align-items:center;margin-bottom:12px}" +
        ".pluggy-connect-connectors{list-style:none;margin:0;padding:0}" +
        ".pluggy-connect-connector{display:flex;align-items:center;gap:8px;width:100%;margin:4px 0;padding:8px;" +
        "border:1px solid #ddd;border-radius:6px;background:#fafafa;cursor:pointer;text-align:left}" +
        ".pluggy-connect-connector img{width:24px;height:24px}" +
        ".pluggy-connect-login label{display:block;margin:8px 0}" +
        ".pluggy-connect-login input,.pluggy-connect-search{display:block;width:100%;box-sizing:border-box;" +
        "padding:6px;margin-top:4px}" +
        ".pluggy-connect-error{color:#b00020}" +
        ".pluggy-connect-submit,.pluggy-connect-done{background:#ef294b;color:#fff;border:0;border-radius:6px;" +
        "padding:8px 16px;cursor:pointer}";

    function el(tag, attrs, children) {
        var node = document.createElement(tag);
        Object.keys(attrs || {}).forEach(function (name) {
            if (name === "text") {
                node.textContent = attrs[name];
            } else if (attrs[name] !== null && attrs[name] !== undefined && attrs[name] !== false) {
                node.setAttribute(name, attrs[name]);
            }
        });
        (children || []).forEach(function (child) {
            node.appendChild(child);
        });
        return node;
    }

    class PluggyConnect {
        constructor(options) {
            if (!options || !options.connectToken) {
                throw new Error("PluggyConnect: the connectToken option is required");
            }
            this.options = Object.assign({includeSandbox: false, language: "pt"}, options);
            this.baseUrl = (options.url || global.PLUGGY_EMULATOR_URL || SCRIPT_BASE || "").replace(/\/$/, "");
            this.text = TEXT[(this.options.language || "pt").slice(0, 2)] || TEXT.en;
            this.root = null;
            this.closed = false;
            this._onKey = this._onKey.bind(this);
        }

        // ------------------------------------------------------------ public API
        init(container) {
            this.destroyDom();
            this.closed = false;
            if (!document.getElementById(STYLE_ID)) {
                document.head.appendChild(el("style", {id: STYLE_ID, text: CSS}));
            }
            this.body = el("div", {class: "pluggy-connect-body"});
            var closeButton = el("button", {type: "button", class: "pluggy-connect-close", "aria-label":
                this.text.close, text: "×"});
            closeButton.addEventListener("click", () => this._close());
            this.root = el("div", {class: "pluggy-connect-stub", id: "pluggy-connect-stub", role: "dialog",
                "aria-modal": "true", "data-state": "loading"}, [
                el("div", {class: "pluggy-connect-dialog"}, [
                    el("div", {class: "pluggy-connect-header"}, [
                        el("strong", {class: "pluggy-connect-title", text: this.text.title}), closeButton,
                    ]),
                    this.body,
                ]),
            ]);
            (container || document.body).appendChild(this.root);
            document.addEventListener("keydown", this._onKey);
            this._call("onOpen");
            return this._start();
        }

        show() {
            if (this.root) {
                this.root.style.display = "";
            }
            return Promise.resolve();
        }

        hide() {
            if (this.root) {
                this.root.style.display = "none";
                this._call("onHide");
            }
            return Promise.resolve();
        }

        destroy() {
            this.destroyDom();
            return Promise.resolve();
        }

        destroyDom() {
            document.removeEventListener("keydown", this._onKey);
            if (this.root && this.root.parentNode) {
                this.root.parentNode.removeChild(this.root);
            }
            this.root = null;
        }

        // ----------------------------------------------------------------- flow
        _start() {
            var opts = this.options;
            if (opts.updateItem) {
                return this._api("GET", "/items/" + encodeURIComponent(opts.updateItem)).then((item) => {
                    if (item.status !== "LOGIN_ERROR" && !opts.forceAskForCredentials) {
                        return this._submit(item.connector, null);
                    }
                    this._showLogin(item.connector);
                }, (error) => this._fail(error.message, null));
            }
            var query = "/connectors?sandbox=" + (opts.includeSandbox ? "true" : "false");
            return this._api("GET", query).then((page) => {
                var list = page.results.filter(function (c) {
                    return (!opts.connectorIds || opts.connectorIds.indexOf(c.id) >= 0) &&
                        (!opts.connectorTypes || opts.connectorTypes.indexOf(c.type) >= 0) &&
                        (!opts.countries || opts.countries.indexOf(c.country) >= 0);
                });
                if (opts.connectorSortAlphabetically) {
                    list.sort(function (a, b) { return a.name.localeCompare(b.name); });
                }
                var selected = list.filter(function (c) { return c.id === opts.selectedConnectorId; })[0];
                if (selected) {
                    this._showLogin(selected);
                } else {
                    this._showConnectors(list);
                }
            }, (error) => this._fail(error.message, null));
        }

        _showConnectors(list) {
            var search = el("input", {type: "search", class: "pluggy-connect-search", name: "search",
                placeholder: this.text.search});
            var ul = el("ul", {class: "pluggy-connect-connectors"});
            var render = () => {
                var term = search.value.trim().toLowerCase();
                ul.innerHTML = "";
                list.filter(function (c) { return c.name.toLowerCase().indexOf(term) >= 0; }).forEach((c) => {
                    var button = el("button", {type: "button", class: "pluggy-connect-connector",
                        "data-connector-id": String(c.id), "data-sandbox": String(!!c.isSandbox)}, [
                        el("img", {src: c.imageUrl, alt: ""}), el("span", {text: c.name}),
                    ]);
                    button.addEventListener("click", () => {
                        this._event("SELECTED_INSTITUTION", {connector: c});
                        this._showLogin(c);
                    });
                    ul.appendChild(el("li", {}, [button]));
                });
                if (!ul.children.length) {
                    ul.appendChild(el("li", {class: "pluggy-connect-empty", text: this.text.empty}));
                }
            };
            search.addEventListener("input", render);
            render();
            this._screen("connectors", [search, ul]);
        }

        _showLogin(connector) {
            var error = el("p", {class: "pluggy-connect-error", role: "alert"});
            error.hidden = true;
            var back = el("button", {type: "button", class: "pluggy-connect-back", text: this.text.back});
            var form = el("form", {class: "pluggy-connect-login", "data-connector-id": String(connector.id)}, [
                el("h3", {class: "pluggy-connect-connector-name", text: connector.name}),
                el("label", {}, [el("span", {text: this.text.user}),
                    el("input", {name: "user", type: "text", autocomplete: "off"})]),
                el("label", {}, [el("span", {text: this.text.password}),
                    el("input", {name: "password", type: "password", autocomplete: "off"})]),
                error,
                el("button", {type: "submit", class: "pluggy-connect-submit", text: this.text.submit}),
                back,
            ]);
            back.hidden = !!this.options.updateItem;
            back.addEventListener("click", () => {
                this._event("SELECTED_INSTITUTION", {connector: null});
                this._start();
            });
            form.addEventListener("submit", (ev) => {
                ev.preventDefault();
                this._event("SUBMITTED_LOGIN", {});
                this._submit(connector, {user: form.user.value, password: form.password.value}, error);
            });
            this._screen("login", [form]);
            return error;
        }

        _submit(connector, parameters, errorNode) {
            var body = {connectorId: connector.id};
            if (parameters) {
                body.parameters = parameters;
            }
            var keep = Array.prototype.slice.call(this.body.children);
            var retry = (message, data) => {
                // back to the form (kept as typed, or a fresh one after an automatic update) with the error
                if (keep.length) {
                    this._screen("login", keep);
                } else {
                    errorNode = this._showLogin(connector);
                }
                this._fail(message, data, errorNode);
            };
            this._screen("loading", [el("p", {class: "pluggy-connect-loading", text: this.text.loading})]);
            return this._api("POST", "/_emulator/connect/items", body).then((item) => {
                this._event("ITEM_RESPONSE", {item: item});
                if (item.status === "UPDATED") {
                    this._event("LOGIN_SUCCESS", {item: item});
                    this._showSuccess(item);
                    this._call("onSuccess", {item: item});
                    return;
                }
                retry((item.error && item.error.message) || "Invalid credentials", {item: item});
            }, (error) => retry(error.message, null));
        }

        _showSuccess(item) {
            var done = el("button", {type: "button", class: "pluggy-connect-done", text: this.text.done});
            done.addEventListener("click", () => this._close());
            this._screen("success", [el("div", {class: "pluggy-connect-success", "data-item-id": item.id}, [
                el("p", {text: this.text.success}), done,
            ])]);
        }

        _fail(message, data, errorNode) {
            var node = errorNode || el("p", {class: "pluggy-connect-error", role: "alert"});
            node.textContent = message;
            node.hidden = false;
            if (!errorNode && this.root) {
                this.body.appendChild(node);
                this.root.setAttribute("data-state", "error");
            }
            this._call("onError", data ? {message: message, data: data} : {message: message});
        }

        // -------------------------------------------------------------- helpers
        _screen(name, nodes) {
            if (!this.root) {
                return;
            }
            this.root.setAttribute("data-state", name);
            this.body.innerHTML = "";
            nodes.forEach((node) => this.body.appendChild(node));
        }

        _api(method, path, body) {
            var headers = {"X-API-KEY": this.options.connectToken};
            if (body) {
                headers["Content-Type"] = "application/json";
            }
            return fetch(this.baseUrl + path, {method: method, headers: headers,
                body: body ? JSON.stringify(body) : undefined}).then((response) => {
                return response.json().catch(function () { return {}; }).then((data) => {
                    if (!response.ok) {
                        var message = response.status === 403 ? this.text.invalidToken :
                            data.message || "HTTP " + response.status;
                        throw new Error(message);
                    }
                    return data;
                });
            });
        }

        _event(name, extra) {
            this._call("onEvent", Object.assign({event: name, timestamp: Date.now()}, extra));
        }

        _call(name, payload) {
            var callback = this.options[name];
            if (typeof callback === "function") {
                try {
                    callback(payload);
                } catch (err) {
                    console.error("PluggyConnect " + name + " callback failed", err);
                }
            }
        }

        _close() {
            this.destroyDom();
            if (!this.closed) {
                this.closed = true;
                this._call("onClose");
            }
        }

        _onKey(ev) {
            if (ev.key === "Escape" && this.root && this.root.style.display !== "none") {
                this._close();
            }
        }
    }

    global.PluggyConnect = PluggyConnect;
})(typeof window !== "undefined" ? window : this);
