"""Promises of the Pluggy client (caixa_pluggy/pluggy/client.py), checked against respx-mocked HTTP."""

import base64
import datetime
import json
import logging
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from caixa_pluggy.pluggy import ApiKeyCache, PluggyClient, errors

BASE = "https://api.pluggy.test"
SECRET = "s3cr3t-client-secret"
NOW = 1_800_000_000.0
INVALID_TOKEN = {"code": 403, "message": "Missing or invalid authorization token"}


def make_jwt(exp, iat=None, marker="k"):
    """An unsigned JWT whose payload carries ``exp`` (and ``iat``); ``marker`` makes each key distinct."""

    def segment(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    claims = {"exp": exp, "marker": marker} if iat is None else {"exp": exp, "iat": iat, "marker": marker}
    return f"{segment({'alg': 'HS256'})}.{segment(claims)}.signature"


KEY_1 = make_jwt(NOW + 7200, NOW, "one")
KEY_2 = make_jwt(NOW + 9000, NOW + 1800, "two")


class FakeClock:
    def __init__(self, now=NOW):
        self.now = now

    def __call__(self):
        return self.now


def auth_ok(*keys):
    return [httpx.Response(200, json={"apiKey": key}) for key in keys]


def query_of(call):
    return {name: values[0] for name, values in parse_qs(urlsplit(str(call.request.url)).query).items()}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def cache(clock):
    return ApiKeyCache(clock=clock)


@pytest.fixture
def router():
    with respx.mock(base_url=BASE, assert_all_called=False) as mock_router:
        yield mock_router


@pytest.fixture
def auth(router):
    return router.post("/auth").mock(side_effect=auth_ok(KEY_1, KEY_2))


@pytest.fixture
def client(cache, sleeps):
    with PluggyClient("client-id", SECRET, BASE, key_cache=cache, sleep=sleeps.append) as pluggy:
        yield pluggy


# Authentication ---------------------------------------------------------------------------------------------


def test_api_key_is_cached_across_calls(client, router, auth):
    item = router.get("/items/i1").respond(200, json={"id": "i1"})
    client.get_item("i1")
    client.get_item("i1")
    assert auth.call_count == 1
    assert json.loads(auth.calls[0].request.content) == {"clientId": "client-id", "clientSecret": SECRET}
    assert [call.request.headers["X-API-KEY"] for call in item.calls] == [KEY_1, KEY_1]


def test_api_key_is_renewed_five_minutes_before_jwt_expiry(client, router, auth, clock):
    item = router.get("/items/i1").respond(200, json={"id": "i1"})
    client.get_item("i1")
    clock.now = NOW + 7200 - 301
    client.get_item("i1")
    assert auth.call_count == 1
    clock.now = NOW + 7200 - 299
    client.get_item("i1")
    assert auth.call_count == 2
    assert item.calls[-1].request.headers["X-API-KEY"] == KEY_2


def test_undecodable_api_key_is_kept_one_hour_45(client, router, clock):
    auth = router.post("/auth").mock(side_effect=auth_ok("opaque-key", "opaque-key-2"))
    router.get("/items/i1").respond(200, json={})
    client.get_item("i1")
    clock.now = NOW + 105 * 60 - 1
    client.get_item("i1")
    assert auth.call_count == 1
    clock.now = NOW + 105 * 60 + 1
    client.get_item("i1")
    assert auth.call_count == 2


def test_key_cache_is_shared_by_clients_with_the_same_credentials(cache, router, auth):
    router.get("/items/i1").respond(200, json={})
    for _ in range(2):
        with PluggyClient("client-id", SECRET, BASE, key_cache=cache) as pluggy:
            pluggy.get_item("i1")
    assert auth.call_count == 1


def test_changed_secret_authenticates_again(cache, router, auth):
    router.get("/items/i1").respond(200, json={})
    for secret in (SECRET, "rotated-secret"):
        with PluggyClient("client-id", secret, BASE, key_cache=cache) as pluggy:
            pluggy.get_item("i1")
    assert auth.call_count == 2


@pytest.mark.parametrize("status", [401, 403])
def test_invalid_token_reauthenticates_once_and_retries(client, router, auth, status):
    item = router.get("/items/i1").mock(
        side_effect=[httpx.Response(status, json=INVALID_TOKEN), httpx.Response(200, json={"id": "i1"})]
    )
    assert client.get_item("i1") == {"id": "i1"}
    assert auth.call_count == 2
    assert [call.request.headers["X-API-KEY"] for call in item.calls] == [KEY_1, KEY_2]


def test_second_invalid_token_raises_auth_error_without_reauth_loop(client, router, auth):
    item = router.get("/items/i1").respond(403, json=INVALID_TOKEN)
    with pytest.raises(errors.PluggyAuthError) as exc_info:
        client.get_item("i1")
    assert (auth.call_count, item.call_count) == (2, 2)
    assert exc_info.value.status == 403
    assert exc_info.value.code_description is None


def test_client_ip_not_allowed_is_neither_reauthenticated_nor_retried(client, router, auth, sleeps):
    body = {"code": 403, "codeDescription": "CLIENT_IP_NOT_ALLOWED", "message": "IP not allowed"}
    item = router.get("/items/i1").respond(403, json=body)
    with pytest.raises(errors.PluggyForbidden) as exc_info:
        client.get_item("i1")
    assert (auth.call_count, item.call_count, sleeps) == (1, 1, [])
    assert exc_info.value.code_description == "CLIENT_IP_NOT_ALLOWED"


def test_wrong_client_keys_raise_auth_error_without_the_secret(client, router):
    body = {"code": 401, "codeDescription": "CLIENT_KEYS_UNAUTHORIZED", "message": f"bad keys {SECRET}"}
    auth = router.post("/auth").respond(401, json=body)
    with pytest.raises(errors.PluggyAuthError) as exc_info:
        client.get_item("i1")
    assert auth.call_count == 1
    assert str(exc_info.value) == "CLIENT_KEYS_UNAUTHORIZED: bad keys ***"


# Rate limits and retries ------------------------------------------------------------------------------------


def test_429_waits_ratelimit_reset_then_succeeds(client, router, auth, sleeps):
    limited = httpx.Response(429, json={"code": 429}, headers={"RateLimit-Reset": "7", "Retry-After": "60"})
    router.get("/items/i1").mock(side_effect=[limited, httpx.Response(200, json={"id": "i1"})])
    assert client.get_item("i1") == {"id": "i1"}
    assert sleeps == [7.0]


def test_429_without_ratelimit_reset_waits_retry_after(client, router, auth, sleeps):
    limited = httpx.Response(429, json={"code": 429}, headers={"Retry-After": "3"})
    router.get("/items/i1").mock(side_effect=[limited, httpx.Response(200, json={})])
    client.get_item("i1")
    assert sleeps == [3.0]


def test_429_whose_window_resets_now_waits_a_second_not_a_minute(client, router, auth, sleeps):
    limited = httpx.Response(429, json={"code": 429}, headers={"RateLimit-Reset": "0", "Retry-After": "60"})
    router.get("/items/i1").mock(side_effect=[limited, httpx.Response(200, json={"id": "i1"})])
    assert client.get_item("i1") == {"id": "i1"}
    assert sleeps == [1.0]


def test_429_persisting_past_the_wait_budget_raises_rate_limited(cache, router, auth):
    sleeps = []
    router.get("/items/i1").respond(
        429, json={"code": 429, "message": "Too many"}, headers={"RateLimit-Reset": "4"}
    )
    pluggy = PluggyClient(
        "client-id", SECRET, BASE, key_cache=cache, sleep=sleeps.append, max_rate_limit_wait=10
    )
    with pytest.raises(errors.PluggyRateLimited) as exc_info:
        pluggy.get_item("i1")
    assert sleeps == [4.0, 4.0]
    assert (exc_info.value.status, exc_info.value.retry_after) == (429, 4.0)


def test_429_on_post_is_retried_because_it_was_not_applied(client, router, auth, sleeps):
    limited = httpx.Response(429, json={"code": 429}, headers={"RateLimit-Reset": "2"})
    route = router.post("/connect_token").mock(
        side_effect=[limited, httpx.Response(200, json={"accessToken": "t"})]
    )
    assert client.create_connect_token() == "t"
    assert (route.call_count, sleeps) == (2, [2.0])


@pytest.mark.parametrize("status", [502, 503, 504])
def test_get_5xx_is_retried_with_backoff(client, router, auth, sleeps, status):
    router.get("/items/i1").mock(side_effect=[httpx.Response(status), httpx.Response(200, json={"id": "i1"})])
    assert client.get_item("i1") == {"id": "i1"}
    assert sleeps == [0.5]


def test_get_5xx_persisting_raises_server_error_after_max_retries(client, router, auth, sleeps):
    body = {"code": 503, "codeDescription": "SERVICE_UNAVAILABLE", "message": "maintenance"}
    route = router.get("/items/i1").respond(503, json=body)
    with pytest.raises(errors.PluggyServerError) as exc_info:
        client.get_item("i1")
    assert route.call_count == 4
    assert sleeps == [0.5, 1.0, 2.0]
    assert str(exc_info.value) == "SERVICE_UNAVAILABLE: maintenance"


def test_get_500_is_not_retried(client, router, auth, sleeps):
    route = router.get("/items/i1").respond(500, json={"code": 500, "message": "boom"})
    with pytest.raises(errors.PluggyServerError):
        client.get_item("i1")
    assert (route.call_count, sleeps) == (1, [])


def test_transport_error_on_get_is_retried(client, router, auth, sleeps):
    route = router.get("/items/i1").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json={})]
    )
    assert client.get_item("i1") == {}
    assert (route.call_count, sleeps) == (2, [0.5])


def test_transport_error_persisting_raises_transport_error(client, router, auth, sleeps):
    router.get("/items/i1").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(errors.PluggyTransportError) as exc_info:
        client.get_item("i1")
    assert len(sleeps) == 3
    assert exc_info.value.status is None
    assert "ReadTimeout" in str(exc_info.value)


def test_post_5xx_is_never_retried(client, router, auth, sleeps):
    route = router.post("/connect_token").respond(503, json={"code": 503, "message": "maintenance"})
    with pytest.raises(errors.PluggyServerError):
        client.create_connect_token(item_id="i1")
    assert (route.call_count, sleeps) == (1, [])


@pytest.mark.parametrize("method, call", [("PATCH", "update_item"), ("DELETE", "delete_item")])
def test_patch_and_delete_transport_errors_are_never_retried(client, router, auth, sleeps, method, call):
    route = router.route(method=method, path="/items/i1").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(errors.PluggyTransportError):
        getattr(client, call)("i1")
    assert (route.call_count, sleeps) == (1, [])


def test_timeout_is_30_seconds_with_10_to_connect(client):
    assert client._http.timeout == httpx.Timeout(30, connect=10)


# Transactions -----------------------------------------------------------------------------------------------


def cursor_pages(router, pages):
    """Mock /v2/transactions with ``pages`` (lists of rows) chained by ``next`` cursors.

    The cursors carry a raw ``+`` and ``/``.
    """
    responses = []
    for number, rows in enumerate(pages):
        last = number == len(pages) - 1
        next_link = None if last else f"?accountId=acc-1&after=Y3Vyc29y+{number}/x%3D"
        responses.append(httpx.Response(200, json={"results": rows, "next": next_link}))
    return router.get("/v2/transactions").mock(side_effect=responses)


def test_cursor_pagination_follows_next_to_the_end_keeping_filters(client, router, auth):
    route = cursor_pages(router, [[{"id": "t1"}, {"id": "t2"}], [{"id": "t3"}], [{"id": "t4"}]])
    pages = list(
        client.iter_transaction_pages("acc-1", date_from=datetime.date(2025, 1, 1), date_to="2025-12-31")
    )
    assert [[row["id"] for row in page] for page in pages] == [["t1", "t2"], ["t3"], ["t4"]]
    queries = [query_of(call) for call in route.calls]
    for query in queries:
        assert (query["accountId"], query["dateFrom"], query["dateTo"]) == (
            "acc-1",
            "2025-01-01",
            "2025-12-31",
        )
    assert [query.get("after") for query in queries] == [None, "Y3Vyc29y+0/x=", "Y3Vyc29y+1/x="]


def test_created_at_from_filter_is_kept_on_every_page(client, router, auth):
    route = cursor_pages(router, [[{"id": "t1"}], [{"id": "t2"}]])
    since = datetime.datetime(2025, 3, 1, 12, 30, tzinfo=datetime.timezone.utc)  # noqa: UP017 - 3.10 support
    assert [tx["id"] for tx in client.iter_transactions("acc-1", created_at_from=since)] == ["t1", "t2"]
    assert [query_of(call)["createdAtFrom"] for call in route.calls] == ["2025-03-01T12:30:00.000Z"] * 2


def test_ids_filter_is_kept_on_every_page(client, router, auth):
    route = cursor_pages(router, [[{"id": "a"}], [{"id": "b"}]])
    assert [tx["id"] for tx in client.iter_transactions("acc-1", ids=["a", "b"])] == ["a", "b"]
    assert [query_of(call)["ids"] for call in route.calls] == ["a,b", "a,b"]


def test_more_than_500_ids_are_split_into_several_requests(client, router, auth):
    ids = [f"id-{n}" for n in range(1201)]
    route = router.get("/v2/transactions").respond(200, json={"results": [], "next": None})
    list(client.iter_transaction_pages("acc-1", ids=ids))
    sent = [query_of(call)["ids"].split(",") for call in route.calls]
    assert [len(chunk) for chunk in sent] == [500, 500, 201]
    assert [i for chunk in sent for i in chunk] == ids


def test_empty_ids_list_requests_nothing(client, router, auth):
    route = router.get("/v2/transactions").respond(200, json={"results": [{"id": "x"}], "next": None})
    assert list(client.iter_transaction_pages("acc-1", ids=[])) == []
    assert route.call_count == 0


def test_transaction_pages_are_streamed_not_accumulated(client, router, auth):
    route = cursor_pages(router, [[{"id": "t1"}], [{"id": "t2"}], [{"id": "t3"}]])
    pages = client.iter_transaction_pages("acc-1")
    assert next(pages) == [{"id": "t1"}]
    assert route.call_count == 1


def test_repeated_cursor_raises_instead_of_looping(client, router, auth):
    router.get("/v2/transactions").respond(200, json={"results": [{"id": "t"}], "next": "?after=same"})
    with pytest.raises(errors.PluggyError, match="cursor"):
        list(client.iter_transaction_pages("acc-1"))


def test_amounts_are_decimal_never_float(client, router, auth):
    raw = b'{"id": "t1", "amount": -212.45, "balance": 1500, "creditCardMetadata": {"totalAmount": 0.1}}'
    router.get("/transactions/t1").respond(200, content=raw, headers={"Content-Type": "application/json"})
    tx = client.get_transaction("t1")
    assert tx["amount"] == Decimal("-212.45") and isinstance(tx["amount"], Decimal)
    assert tx["creditCardMetadata"]["totalAmount"] == Decimal("0.1")
    assert tx["balance"] == 1500 and not isinstance(tx["balance"], float)


def test_unknown_fields_and_enum_values_are_tolerated(client, router, auth):
    row = {"id": "t1", "type": "SOMETHING_NEW", "status": "FUTURE_STATUS", "brandNewField": {"x": [1]}}
    cursor_pages(router, [[row]])
    assert list(client.iter_transactions("acc-1")) == [row]


# Listings and bodies ----------------------------------------------------------------------------------------


def test_page_based_listing_follows_total_pages(client, router, auth):
    route = router.get("/accounts").mock(
        side_effect=[
            httpx.Response(
                200, json={"page": 1, "totalPages": 2, "total": 3, "results": [{"id": 1}, {"id": 2}]}
            ),
            httpx.Response(200, json={"page": 2, "totalPages": 2, "total": 3, "results": [{"id": 3}]}),
        ]
    )
    assert [acc["id"] for acc in client.list_accounts("item-1", type="BANK")] == [1, 2, 3]
    assert [query_of(call) for call in route.calls] == [
        {"itemId": "item-1", "type": "BANK"},
        {"itemId": "item-1", "type": "BANK", "page": "2"},
    ]


def test_query_booleans_are_lowercase_and_lists_comma_joined(client, router, auth):
    route = router.get("/connectors").respond(200, json={"results": [{"id": 2}]})
    assert client.list_connectors(sandbox=True, types=["PERSONAL_BANK", "BUSINESS_BANK"]) == [{"id": 2}]
    assert query_of(route.calls[0]) == {
        "sandbox": "true",
        "countries": "BR",
        "types": "PERSONAL_BANK,BUSINESS_BANK",
    }
    detail = router.get("/connectors/2").respond(200, json={"id": 2})
    client.get_connector(2, health_details=True)
    assert query_of(detail.calls[0]) == {"healthDetails": "true"}


def test_connect_token_sends_only_given_options(client, router, auth):
    route = router.post("/connect_token").respond(200, json={"accessToken": "tok"})
    assert client.create_connect_token(client_user_id="company-7", webhook_url="https://x.test/h") == "tok"
    body = json.loads(route.calls[0].request.content)
    assert body == {
        "options": {"clientUserId": "company-7", "webhookUrl": "https://x.test/h", "avoidDuplicates": True}
    }


def test_webhook_management(client, router, auth):
    router.post("/webhooks").respond(201, json={"id": "w1", "headers": {}})
    patch = router.patch("/webhooks/w1").respond(200, json={"id": "w1"})
    delete = router.delete("/webhooks/w1").respond(200, json={"count": 1})
    router.get("/webhooks").respond(200, json={"page": 1, "totalPages": 1, "results": [{"id": "w1"}]})
    assert client.create_webhook("https://x.test/h", "transactions/created", {"X-Secret": "v"})["id"] == "w1"
    assert client.list_webhooks() == [{"id": "w1"}]
    client.update_webhook("w1", headers=None, enabled=True)
    assert json.loads(patch.calls[0].request.content) == {"headers": None, "enabled": True}
    assert client.delete_webhook("w1") is None and delete.call_count == 1
    with pytest.raises(TypeError):
        client.update_webhook("w1", enable=True)


def test_webhook_list_answered_204_is_empty(client, router, auth):
    router.get("/webhooks").respond(204)
    assert client.list_webhooks() == []


def test_resource_ids_cannot_escape_their_path(client, router, auth):
    route = router.get("/items/..%2Fwebhooks").respond(200, json={})
    client.get_item("../webhooks")
    assert route.call_count == 1


# Errors and secrets -----------------------------------------------------------------------------------------


def test_error_carries_code_description_message_status_and_data(client, router, auth):
    body = {
        "code": 409,
        "codeDescription": "ITEM_CREATION_LIMIT_EXCEEDED",
        "message": "Limit reached",
        "data": {"itemsLimit": 100},
    }
    router.patch("/items/i1").respond(409, json=body)
    with pytest.raises(errors.PluggyConflict) as exc_info:
        client.update_item("i1")
    error = exc_info.value
    assert (error.status, error.code_description, error.message) == (
        409,
        "ITEM_CREATION_LIMIT_EXCEEDED",
        "Limit reached",
    )
    assert error.data == {"itemsLimit": 100}
    assert str(error) == "ITEM_CREATION_LIMIT_EXCEEDED: Limit reached"


@pytest.mark.parametrize(
    "status, error_cls",
    [
        (400, errors.PluggyBadRequest),
        (404, errors.PluggyNotFound),
        (410, errors.PluggyHTTPError),
        (500, errors.PluggyServerError),
    ],
)
def test_each_status_raises_its_typed_error(client, router, auth, status, error_cls):
    router.get("/transactions/t1").respond(status, json={"code": status, "message": "nope"})
    with pytest.raises(error_cls) as exc_info:
        client.get_transaction("t1")
    assert str(exc_info.value) == f"{status}: nope"
    assert isinstance(exc_info.value, errors.PluggyError)


def test_api_key_and_secret_never_appear_in_errors(client, router, auth):
    echo = {"code": 400, "codeDescription": "ECHO", "message": f"key {KEY_1} secret {SECRET}", "data": {}}
    router.get("/items/i1").respond(400, json=echo)
    router.get("/items/i2").mock(side_effect=httpx.ConnectError(f"refused {KEY_1}"))
    router.post("/connect_token").respond(502, text=f"<html>proxy saw {KEY_1}</html>")
    raised = []
    for call in (lambda: client.get_item("i1"), lambda: client.get_item("i2"), client.create_connect_token):
        with pytest.raises(errors.PluggyError) as exc_info:
            call()
        raised.append(exc_info.value)
    for error in raised:
        for text in (str(error), repr(error), error.message):
            assert KEY_1 not in text and SECRET not in text


def test_debug_log_has_method_path_status_and_no_secret(client, router, auth, caplog):
    router.get("/items/i1").respond(200, json={})
    with caplog.at_level(logging.DEBUG, logger="caixa_pluggy.pluggy.client"):
        client.get_item("i1")
    assert "GET /items/i1 -> 200" in caplog.text
    assert KEY_1 not in caplog.text and SECRET not in caplog.text
