"""HTTP server of the Pluggy emulator, its in-process API (``start_emulator``) and the command line.

Run ``python3 tools/pluggy_emulator/server.py --port 8787 --seed 42`` or ``python3 -m tools.pluggy_emulator``.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

if __package__ in (None, ""):  # run as a script: import the package by its folder name
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = Path(__file__).resolve().parent.name
    __import__(__package__)

from . import control, handlers  # noqa: F401  (import registers the routes)
from .config import Config, parse_args
from .errors import ApiError
from .jsonio import dumps, loads
from .router import Request, Response, router
from .state import BASE_MARK, State
from .webhooks import post

_logger = logging.getLogger("pluggy_emulator")
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PATCH, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, X-API-KEY, Authorization",
    "Access-Control-Expose-Headers": "RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After",
    "Access-Control-Max-Age": "600",
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server_version = "PluggyEmulator/1.0"

    def do_OPTIONS(self):
        self._send(Response(204, b"", content_type="text/plain"))

    def do_GET(self):
        self._handle()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def log_message(self, fmt, *args):
        _logger.debug("%s %s", self.address_string(), fmt % args)

    def _handle(self):
        emulator = self.server.emulator
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        host = self.headers.get("Host")
        req = Request(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            body=None,
            headers={k.lower(): v for k, v in self.headers.items()},
            base=f"http://{host}" if host else emulator.url,
            state=emulator.state,
            emulator=emulator,
        )
        try:
            response = self._dispatch(req, raw)
        except ApiError as exc:
            response = Response(exc.status, exc.body, exc.headers)
        except Exception:  # the emulator must answer like a server, never drop the connection
            _logger.exception("emulator error on %s %s", self.command, self.path)
            response = Response(
                500,
                {"code": 500, "codeDescription": "INTERNAL_SERVER_ERROR", "message": "Internal Server Error"},
            )
        self._send(response, req.base)

    def _dispatch(self, req: Request, raw: bytes) -> Response:
        state = req.state
        route, params, path_known = router.match(req.method, req.path)
        if route is None:
            raise ApiError(404 if not path_known else 405, f"Cannot {req.method} {req.path}")
        if not route.control:
            delay, expire, error = state.faults.check(req.method, req.path, req.query)
            if delay:
                time.sleep(delay)
            if expire:
                with state.lock:
                    state.expire_keys()
            if error:
                raise error
        if raw:
            try:
                req.body = loads(raw.decode("utf-8"))
            except ValueError:
                raise ApiError(400, "Invalid JSON body") from None
        req.params = params
        with state.lock:
            state.requests[route.name] += 1
            if route.auth:
                req.token = state.authenticate(
                    req.headers.get("x-api-key"), connect_ok=route.auth == "connect"
                )
            response = route.func(req)
            if response.after is None and isinstance(response.body, (dict, list)):
                response.body = dumps(response.body)  # serialise while no other thread can change the rows
        if response.after is not None:
            replaced = response.after()
            if replaced is not None:
                response.body = replaced
            if isinstance(response.body, (dict, list)):
                with state.lock:
                    response.body = dumps(response.body)
        return response

    def _send(self, response: Response, base: str | None = None):
        body = response.body
        if body is None:
            body = b""
        elif isinstance(body, (dict, list)):
            body = dumps(body)
        if isinstance(body, str):
            if base and BASE_MARK in body:
                body = body.replace(BASE_MARK, base)
            body = body.encode("utf-8")
        self.send_response(response.status)
        headers = {
            **CORS_HEADERS,
            "Content-Type": response.content_type,
            "Content-Length": str(len(body)),
            **response.headers,
        }
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


class Emulator:
    """A running emulator: ``url``, ``state`` (the live data, for in-process tests) and ``stop()``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, config: Config | None = None):
        self.state = State(config or Config())
        self.httpd = _Server((host, port), _Handler)
        self.httpd.emulator = self
        shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
        self.url = f"http://{shown}:{self.httpd.server_port}"
        self.port = self.httpd.server_port
        self.outbox: queue.Queue = queue.Queue()
        self.state.outbox = lambda payload, targets: self.outbox.put((payload, targets))
        self._threads = [
            threading.Thread(
                target=self.httpd.serve_forever, args=(0.05,), name="pluggy-emulator", daemon=True
            ),
            threading.Thread(target=self._send_outbox, name="pluggy-emulator-webhooks", daemon=True),
        ]

    def start(self) -> Emulator:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        for timer in self.state.timers:
            timer.cancel()
        self.outbox.put(None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def deliver(self, payload: dict, targets: list[dict]) -> list[dict]:
        """POST a payload to each target now; each outcome is returned and kept in ``state.deliveries``."""
        results = []
        for target in targets:
            result = post(target["url"], payload, target["headers"], float(self.state.config.webhook_timeout))
            result["webhookId"] = target["webhookId"]
            self.state.record_delivery(payload, result)
            results.append(result)
        return results

    def wait_deliveries(self, timeout: float = 10.0) -> bool:
        """Wait until background deliveries (auto webhooks, ``async`` deliver) are all sent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.outbox.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def _send_outbox(self) -> None:
        while True:
            job = self.outbox.get()
            try:
                if job is None:
                    return
                self.deliver(*job)
            except Exception:  # a broken receiver must not stop later deliveries
                _logger.exception("webhook delivery failed")
            finally:
                self.outbox.task_done()


def start_emulator(host: str = "127.0.0.1", port: int = 0, **options) -> Emulator:
    """Start an emulator in background threads; ``options`` are Config fields (seed=, page_size=, ...)."""
    config = Config()
    config.update(options)
    return Emulator(host, port, config).start()


def main(argv=None) -> None:
    host, port, config = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    emulator = Emulator(host, port, config)
    print(
        f"Pluggy emulator listening on {emulator.url} (seed {config.seed}, client id {config.client_id})",
        flush=True,
    )
    emulator.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    main()
