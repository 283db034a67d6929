"""Typed errors raised by the Pluggy client.

Every error carries Pluggy's ``codeDescription`` (the stable id to branch on), its human ``message``, the HTTP
``status`` and the optional ``data`` object. ``str(err)`` is ``"<codeDescription or status>: <message>"``.
Messages never contain the client secret or the API key: the client redacts them before raising.
"""

import json
from decimal import Decimal

__all__ = [
    "PluggyAuthError",
    "PluggyBadRequest",
    "PluggyConflict",
    "PluggyError",
    "PluggyForbidden",
    "PluggyHTTPError",
    "PluggyNotFound",
    "PluggyRateLimited",
    "PluggyServerError",
    "PluggyTransportError",
]

# Non-JSON bodies (an HTML 502 page from a proxy) are cut so a log line stays readable.
_MAX_MESSAGE = 500
_REDACTED = "***"


class PluggyError(Exception):
    """Base of every error raised by the Pluggy client."""

    def __init__(self, message, *, status=None, code_description=None, data=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code_description = code_description
        self.data = data

    def __str__(self):
        label = self.code_description or self.status or type(self).__name__
        return f"{label}: {self.message}"


class PluggyTransportError(PluggyError):
    """The request never got an HTTP answer (DNS, connect, TLS, timeout, reset)."""


class PluggyHTTPError(PluggyError):
    """Pluggy answered with an HTTP error status."""

    @classmethod
    def from_response(cls, response, *, redact=()):
        """Build the subclass matching ``response`` (an ``httpx.Response``), hiding any ``redact`` string."""
        body = _error_body(response)
        status = response.status_code
        message = str(body.get("message") or response.reason_phrase or f"HTTP {status}")[:_MAX_MESSAGE]
        code_description = body.get("codeDescription")
        kwargs = {
            "status": status,
            "code_description": str(code_description) if code_description else None,
            "data": _error_data(body),
        }
        error_cls = _error_class(status, kwargs["code_description"])
        if error_cls is PluggyRateLimited:
            kwargs["retry_after"] = retry_after_seconds(response)
        return error_cls(redact_text(message, redact), **kwargs)


class PluggyBadRequest(PluggyHTTPError):
    """400: the request was invalid (bad cursor, too many ids, webhook URL refused...)."""


class PluggyAuthError(PluggyHTTPError):
    """401, or 403 "invalid token" even after re-authenticating.

    The client keys or the API key are refused.
    """


class PluggyForbidden(PluggyHTTPError):
    """403 with a codeDescription: IP allowlist (``CLIENT_IP_NOT_ALLOWED``) or a business refusal."""


class PluggyNotFound(PluggyHTTPError):
    """404: unknown item, account, transaction, connector or webhook."""


class PluggyConflict(PluggyHTTPError):
    """409: e.g. ``CLIENT_IS_UPDATING_BEFORE_ALLOWED_FREQUENCY`` or ``ITEM_CREATION_LIMIT_EXCEEDED``."""


class PluggyRateLimited(PluggyHTTPError):
    """429 that persisted past the client's wait budget; ``retry_after`` is Pluggy's hint in seconds."""

    def __init__(self, message, *, retry_after=None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class PluggyServerError(PluggyHTTPError):
    """5xx: Pluggy or the institution behind it failed (503 during maintenance)."""


def retry_after_seconds(response):
    """Seconds to wait from ``RateLimit-Reset``, else ``Retry-After``; None when neither is a number."""
    for header in ("RateLimit-Reset", "Retry-After"):
        try:
            return max(float(response.headers[header]), 0.0)
        except (KeyError, ValueError):
            continue
    return None


def redact_text(text, secrets):
    """Replace every non-empty secret found in ``text``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text


def _error_class(status, code_description):
    if status == 400:
        return PluggyBadRequest
    if status == 401:
        return PluggyAuthError
    if status == 403:
        # Pluggy's "Missing or invalid authorization token" has no codeDescription; named 403s are refusals.
        return PluggyForbidden if code_description else PluggyAuthError
    if status == 404:
        return PluggyNotFound
    if status == 409:
        return PluggyConflict
    if status == 429:
        return PluggyRateLimited
    if status >= 500:
        return PluggyServerError
    return PluggyHTTPError


def _error_body(response):
    try:
        body = json.loads(response.content, parse_float=Decimal)
    except ValueError:
        text = response.text.strip()
        return {"message": text} if text else {}
    return body if isinstance(body, dict) else {}


def _error_data(body):
    """Pluggy's ``data`` object, plus item-creation ``details``/``errors`` lists when present."""
    data = dict(body["data"]) if isinstance(body.get("data"), dict) else {}
    for key in ("details", "errors"):
        if body.get(key):
            data[key] = body[key]
    return data or None
