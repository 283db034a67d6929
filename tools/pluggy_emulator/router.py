"""A tiny router: routes declare their method, path pattern and who may call them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import ApiError


@dataclass
class Request:
    method: str
    path: str
    query: dict
    body: object
    headers: dict
    base: str  # the emulator's URL as the caller sees it (from the Host header)
    state: object
    emulator: object = None
    params: dict = field(default_factory=dict)
    token: dict | None = None  # the connect token, when one authenticated the call

    def json(self) -> dict:
        """The body as an object ({} when empty); anything else is a 400."""
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise ApiError(400, "request body must be a JSON object")
        return self.body

    def flag(self, name: str) -> bool:
        """A boolean query parameter (or body field), Pluggy-style lowercase true/false."""
        value = self.query.get(name)
        if value is None and isinstance(self.body, dict):
            value = self.body.get(name)
        return value is True or str(value).lower() == "true"


@dataclass
class Response:
    status: int
    body: object = None  # dict/list -> JSON; str/bytes sent as is with ``content_type``
    headers: dict = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"
    after: object = None  # callable run after the state lock is released; may return a new body


@dataclass
class Route:
    method: str
    pattern: re.Pattern
    name: str
    func: object
    auth: str | None  # "api", "connect" (API key or connect token), or None
    control: bool  # /_emulator/ or static: no faults


class Router:
    def __init__(self):
        self.routes: list[Route] = []

    def route(self, method: str, path: str, *, auth: str | None = "api", control: bool = False):
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")

        def register(func):
            self.routes.append(Route(method, regex, f"{method} {path}", func, auth, control))
            return func

        return register

    def match(self, method: str, path: str) -> tuple[Route | None, dict, bool]:
        """(route, path params, whether the path exists under another method)."""
        path_known = False
        for route in self.routes:
            found = route.pattern.match(path)
            if found:
                path_known = True
                if route.method == method:
                    return route, found.groupdict(), True
        return None, {}, path_known


router = Router()
