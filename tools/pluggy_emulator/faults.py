"""Fault switches: error statuses, 429s, slow answers and key expiry on a path prefix, after K requests."""

from __future__ import annotations

import threading

from .errors import ApiError

_MESSAGES = {
    500: ("Internal Server Error", "INTERNAL_SERVER_ERROR"),
    502: ("Bad Gateway", None),
    503: ("Service Unavailable", None),
    504: ("Gateway Timeout", None),
}
RATE_LIMIT_MESSAGE = "Too many requests. Please try again later (see Retry-After header in seconds)"


class Faults:
    """Rules fire on requests whose path starts with ``path`` (and method, when given), after ``skip`` of them
    went through untouched; each fires ``remaining`` times (None = until cleared)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.rules: list[dict] = []

    def add(self, body: dict) -> list[dict]:
        """Split one ``POST /_emulator/faults`` body into rules; returns them."""
        path = str(body.get("path") or "/")
        method = (body.get("method") or "").upper() or None
        account_id = body.get("account_id") or None
        skip = int(body.get("after_pages") or body.get("after") or 0)
        added = []
        if body.get("status"):
            added.append(
                {
                    "kind": "status",
                    "status": int(body["status"]),
                    "remaining": int(body.get("count", 1)),
                    "message": body.get("message"),
                    "code_description": body.get("codeDescription"),
                }
            )
        rate = body.get("rate_limit")
        if rate:
            rate = rate if isinstance(rate, dict) else {}
            added.append(
                {
                    "kind": "rate_limit",
                    "remaining": int(rate.get("count", 1)),
                    "reset": int(rate.get("reset", 60)),
                    "limit": int(rate.get("limit", 360)),
                    "retry_after": int(rate.get("retry_after", 60)),
                    "path": rate.get("path"),
                    "skip": rate.get("after_pages"),
                }
            )
        if body.get("delay"):
            count = body.get("delay_count")
            added.append(
                {
                    "kind": "delay",
                    "delay": float(body["delay"]),
                    "remaining": None if count is None else int(count),
                }
            )
        if body.get("expire_keys") and skip:
            added.append({"kind": "expire_keys", "remaining": 1})
        for rule in added:
            rule["path"] = str(rule.get("path") or path)
            rule["method"] = method
            rule["account_id"] = account_id
            rule["skip"] = int(rule["skip"]) if rule.get("skip") is not None else skip
            rule["fired"] = 0
        with self._lock:
            self.rules.extend(added)
        return added

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def snapshot(self) -> list[dict]:
        with self._lock:
            return [dict(rule) for rule in self.rules]

    def check(self, method: str, path: str, query: dict | None = None) -> tuple[float, bool, ApiError | None]:
        """Count this request against the rules: (delay seconds, expire keys now, error to answer or None)."""
        delay, expire, error = 0.0, False, None
        with self._lock:
            for rule in list(self.rules):
                if not path.startswith(rule["path"]) or (rule["method"] and rule["method"] != method):
                    continue
                if rule["account_id"] and (query or {}).get("accountId") != rule["account_id"]:
                    continue
                if rule["skip"] > 0:
                    rule["skip"] -= 1
                    continue
                if rule["kind"] in ("status", "rate_limit") and error is not None:
                    continue  # one error per request; the next rule waits for the next request
                rule["fired"] += 1
                if rule["remaining"] is not None:
                    rule["remaining"] -= 1
                    if rule["remaining"] <= 0:
                        self.rules.remove(rule)
                if rule["kind"] == "delay":
                    delay += rule["delay"]
                elif rule["kind"] == "expire_keys":
                    expire = True
                elif rule["kind"] == "rate_limit":
                    error = ApiError(
                        429,
                        RATE_LIMIT_MESSAGE,
                        headers={
                            "RateLimit-Limit": str(rule["limit"]),
                            "RateLimit-Remaining": "0",
                            "RateLimit-Reset": str(rule["reset"]),
                            "Retry-After": str(rule["retry_after"]),
                        },
                    )
                else:
                    status = rule["status"]
                    message, code = _MESSAGES.get(status, ("Emulated failure", None))
                    error = ApiError(status, rule["message"] or message, rule["code_description"] or code)
        return delay, expire, error
