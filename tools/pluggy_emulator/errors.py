"""The error an endpoint raises to answer with a Pluggy-shaped error body."""

from __future__ import annotations


class ApiError(Exception):
    """Answer ``status`` with a GlobalErrorResponse: ``{"code", "codeDescription"?, "message", "data"?}``."""

    def __init__(
        self,
        status: int,
        message: str,
        code_description: str | None = None,
        data: dict | None = None,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.body = {"code": status, "message": message}
        if code_description:
            self.body["codeDescription"] = code_description
        if data is not None:
            self.body["data"] = data
        self.headers = headers or {}


def unauthenticated() -> ApiError:
    return ApiError(403, "Missing or invalid authorization token")


def not_found(what: str) -> ApiError:
    messages = {
        "ITEM": "item not found",
        "ACCOUNT": "account not found",
        "TRANSACTION": "Transaction not found",
        "CONNECTOR": "connector not found",
        "WEBHOOK": "webhook not found",
    }
    return ApiError(404, messages[what], f"{what}_NOT_FOUND")


def bad_request(message: str, code_description: str | None = None) -> ApiError:
    return ApiError(400, message, code_description)
