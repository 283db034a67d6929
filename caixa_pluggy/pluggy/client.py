"""A thin, synchronous Pluggy API client on httpx.

Authentication, retries and pagination live here so callers only see dicts (money as ``Decimal``) and the
typed errors of :mod:`.errors`. The API key and the client secret are never logged nor put in an error
message.
"""

import base64
import hashlib
import json
import logging
import threading
import time
from decimal import Decimal

import httpx

from . import errors
from ._params import compact, cursor_after, format_date, id_chunks, query, resource_path
from .dates import format_timestamp

_logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.pluggy.ai"
_KEY_EXPIRY_MARGIN = 5 * 60  # renew this long before the JWT says the key dies
_KEY_FALLBACK_TTL = 105 * 60  # keys live 2 h; used when the JWT cannot be read
_KEY_MIN_TTL = 60  # never re-authenticate on every call, even with a skewed clock
_RATE_LIMIT_DEFAULT_WAIT = 60.0  # Pluggy's Retry-After is always 60
_BACKOFF_BASE, _BACKOFF_MAX = 0.5, 8.0
_RETRYABLE_GET_STATUSES = frozenset({502, 503, 504})
_WEBHOOK_FIELDS = frozenset({"url", "event", "headers", "enabled"})


class ApiKeyCache:
    """Thread-safe store of API keys, shared by every client of a process.

    Entries are keyed by ``(base_url, client_id, sha256(secret))`` so a changed secret authenticates again.
    """

    def __init__(self, *, clock=time.time):
        self.clock = clock
        self._lock = threading.Lock()
        self._keys = {}  # cache key -> (api_key, expires_at)
        self._auth_locks = {}  # cache key -> Lock, so concurrent callers authenticate once

    def get(self, cache_key):
        with self._lock:
            entry = self._keys.get(cache_key)
        if entry and entry[1] > self.clock():
            return entry[0]
        return None

    def set(self, cache_key, api_key, expires_at):
        with self._lock:
            self._keys[cache_key] = (api_key, expires_at)

    def invalidate(self, cache_key, api_key=None):
        """Forget the key; with ``api_key``, only if it is still the cached one.

        Another thread may have renewed it meanwhile.
        """
        with self._lock:
            entry = self._keys.get(cache_key)
            if entry and (api_key is None or entry[0] == api_key):
                del self._keys[cache_key]

    def auth_lock(self, cache_key):
        with self._lock:
            return self._auth_locks.setdefault(cache_key, threading.Lock())


class PluggyClient:
    """Pluggy API client. Use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        client_id,
        client_secret,
        base_url=DEFAULT_BASE_URL,
        *,
        timeout=30.0,
        key_cache=None,
        transport=None,
        max_retries=3,
        max_rate_limit_wait=60.0,
        sleep=time.sleep,
        user_agent="caixa_pluggy",
    ):
        self._client_id = client_id
        self._client_secret = client_secret
        self._key_cache = key_cache if key_cache is not None else ApiKeyCache()
        self._max_retries = max_retries
        self._max_rate_limit_wait = max_rate_limit_wait
        self._sleep = sleep
        base_url = base_url.rstrip("/")
        secret_hash = hashlib.sha256(client_secret.encode()).hexdigest()
        self._cache_key = (base_url, client_id, secret_hash)
        self._http = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            transport=transport,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
        )

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self._http.close()

    # Authentication -------------------------------------------------------------------------------------

    def get_api_key(self):
        """The cached API key, or a new one from ``POST /auth`` when missing or about to expire."""
        api_key = self._key_cache.get(self._cache_key)
        if api_key:
            return api_key
        with self._key_cache.auth_lock(self._cache_key):
            api_key = self._key_cache.get(self._cache_key)
            if not api_key:
                body = {"clientId": self._client_id, "clientSecret": self._client_secret}
                api_key = (self._request("POST", "/auth", json=body, authenticated=False) or {}).get("apiKey")
                if not api_key:
                    raise errors.PluggyAuthError("POST /auth answered without an apiKey", status=200)
                now = self._key_cache.clock()
                self._key_cache.set(self._cache_key, api_key, now + _key_ttl(api_key, now))
        return api_key

    def create_connect_token(
        self,
        *,
        item_id=None,
        client_user_id=None,
        webhook_url=None,
        oauth_redirect_uri=None,
        avoid_duplicates=True,
    ):
        options = {
            "clientUserId": client_user_id,
            "webhookUrl": webhook_url,
            "oauthRedirectUri": oauth_redirect_uri,
            "avoidDuplicates": avoid_duplicates,
        }
        body = compact({"itemId": item_id, "options": compact(options)})
        return self._request("POST", "/connect_token", json=body)["accessToken"]

    # Connectors, items, accounts ------------------------------------------------------------------------

    def list_connectors(self, *, sandbox=False, countries=("BR",), types=None, name=None):
        params = {"sandbox": sandbox, "countries": countries, "types": types, "name": name}
        return list(self._iter_page_results("/connectors", params))

    def get_connector(self, connector_id, *, health_details=False):
        params = {"healthDetails": True} if health_details else None
        return self._request("GET", resource_path("connectors", int(connector_id)), params=params)

    def get_item(self, item_id):
        return self._request("GET", resource_path("items", item_id))

    def update_item(self, item_id, body=None):
        """``PATCH /items/{id}``: an empty body asks Pluggy to refresh the item (20 per minute)."""
        return self._request("PATCH", resource_path("items", item_id), json=body or {})

    def delete_item(self, item_id):
        self._request("DELETE", resource_path("items", item_id))

    def list_accounts(self, item_id, *, type=None):  # Pluggy's own parameter name
        return list(self._iter_page_results("/accounts", {"itemId": item_id, "type": type}))

    def list_bills(self, account_id):
        """``GET /bills?accountId=``: the credit-card bills Pluggy collected for a card account."""
        return list(self._iter_page_results("/bills", {"accountId": account_id}))

    # Transactions ---------------------------------------------------------------------------------------

    def iter_transaction_pages(
        self, account_id, *, date_from=None, date_to=None, created_at_from=None, ids=None
    ):
        """Yield each non-empty page of ``GET /v2/transactions``, following ``next`` with the filters kept.

        ``ids`` is split into requests of at most 500 ids; an empty ``ids`` yields nothing.
        """
        filters = {
            "accountId": account_id,
            "dateFrom": format_date(date_from),
            "dateTo": format_date(date_to),
            "createdAtFrom": format_timestamp(created_at_from),
        }
        if ids is None:
            yield from self._iter_cursor_pages("/v2/transactions", filters)
            return
        for chunk in id_chunks(ids):
            yield from self._iter_cursor_pages("/v2/transactions", {**filters, "ids": chunk})

    def iter_transactions(self, account_id, **filters):
        """Yield transactions one by one; same filters as :meth:`iter_transaction_pages`."""
        for page in self.iter_transaction_pages(account_id, **filters):
            yield from page

    def get_transaction(self, transaction_id):
        return self._request("GET", resource_path("transactions", transaction_id))

    # Webhooks -------------------------------------------------------------------------------------------

    def create_webhook(self, url, event, headers=None):
        return self._request(
            "POST", "/webhooks", json=compact({"url": url, "event": event, "headers": headers})
        )

    def list_webhooks(self):
        return list(self._iter_page_results("/webhooks", {}))

    def update_webhook(self, webhook_id, **fields):
        """``PATCH /webhooks/{id}`` with any of ``url``, ``event``, ``headers`` (None clears) and
        ``enabled``."""
        unknown = set(fields) - _WEBHOOK_FIELDS
        if unknown:
            raise TypeError(f"update_webhook() got unexpected fields: {', '.join(sorted(unknown))}")
        return self._request("PATCH", resource_path("webhooks", webhook_id), json=fields)

    def delete_webhook(self, webhook_id):
        self._request("DELETE", resource_path("webhooks", webhook_id))

    # Plumbing -------------------------------------------------------------------------------------------

    def _request(self, method, path, *, params=None, json=None, authenticated=True):
        """Send one call, applying the re-auth, rate-limit and retry rules; return the decoded JSON body."""
        params = query(params or {})
        retries, rate_limit_waited, reauthenticated = 0, 0.0, False
        while True:
            api_key = self.get_api_key() if authenticated else None
            try:
                response = self._send(method, path, params, json, api_key)
            except httpx.TransportError as exc:
                if method == "GET" and retries < self._max_retries:
                    self._backoff(retries)
                    retries += 1
                    continue
                message = self._redact(f"{method} {path} failed: {type(exc).__name__}: {exc}")
                raise errors.PluggyTransportError(message) from None
            if response.status_code < 400:
                return _decode(response)
            error = errors.PluggyHTTPError.from_response(response, redact=self._secrets(api_key))
            if isinstance(error, errors.PluggyRateLimited):
                wait = _RATE_LIMIT_DEFAULT_WAIT if error.retry_after is None else error.retry_after
                wait = max(wait, 1.0)  # a window resetting now: a second, so that a zero reset does not spin
                if rate_limit_waited + wait <= self._max_rate_limit_wait:
                    self._sleep(wait)
                    rate_limit_waited += wait
                    continue
            elif authenticated and not reauthenticated and _is_invalid_token(error):
                self._key_cache.invalidate(self._cache_key, api_key)
                reauthenticated = True
                continue
            elif method == "GET" and error.status in _RETRYABLE_GET_STATUSES and retries < self._max_retries:
                self._backoff(retries)
                retries += 1
                continue
            raise error

    def _send(self, method, path, params, json, api_key):
        headers = {"X-API-KEY": api_key} if api_key else None
        response = self._http.request(method, path, params=params, json=json, headers=headers)
        _logger.debug("Pluggy %s %s -> %s", method, path, response.status_code)
        return response

    def _iter_page_results(self, path, params):
        """Yield ``results`` of a page-based listing (``{page, totalPages, results}``), page after page."""
        page = 1
        while True:
            # ``or {}``: GET /webhooks may answer 204 with no body when there is none.
            body = self._request("GET", path, params={**params, "page": page if page > 1 else None}) or {}
            results = body.get("results") or []
            yield from results
            if not results or page >= (body.get("totalPages") or 1):
                return
            page += 1

    def _iter_cursor_pages(self, path, params):
        """Yield ``results`` of a cursor listing.

        Each page re-sends ``params`` with the ``after`` taken from the previous page's ``next``.
        """
        after, seen = None, set()
        while True:
            body = self._request("GET", path, params={**params, "after": after}) or {}
            if body.get("results"):
                yield body["results"]
            if not body.get("next"):
                return
            after = cursor_after(body["next"])
            if after is None or after in seen:
                raise errors.PluggyError(f"Pluggy returned an unusable pagination cursor for {path}")
            seen.add(after)

    def _backoff(self, attempt):
        self._sleep(min(_BACKOFF_BASE * 2**attempt, _BACKOFF_MAX))

    def _secrets(self, api_key=None):
        return tuple(s for s in (api_key, self._key_cache.get(self._cache_key), self._client_secret) if s)

    def _redact(self, text):
        return errors.redact_text(text, self._secrets())


# Helpers ----------------------------------------------------------------------------------------------------


def _key_ttl(api_key, now):
    """Seconds to keep ``api_key``: its JWT lifetime minus a margin, or the fallback when unreadable."""
    try:
        payload = api_key.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = float(claims["exp"])
        # exp - iat is immune to a skewed local clock; exp - now is the fallback.
        lifetime = exp - float(claims["iat"]) if "iat" in claims else exp - now
    except (IndexError, KeyError, TypeError, ValueError):
        return _KEY_FALLBACK_TTL
    return max(lifetime - _KEY_EXPIRY_MARGIN, _KEY_MIN_TTL)


def _is_invalid_token(error):
    """Pluggy's "Missing or invalid authorization token" (401/403) has no codeDescription.

    Errors with a named codeDescription are refusals, not an expired key.
    """
    return isinstance(error, errors.PluggyAuthError) and not error.code_description


def _decode(response):
    if not response.content:
        return None
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        raise errors.PluggyHTTPError(
            "Pluggy answered with a body that is not JSON", status=response.status_code
        ) from None
