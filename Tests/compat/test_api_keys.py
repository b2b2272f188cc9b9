"""The payment API's keys (issue 17 part 4): `Authorization: Bearer pk_...` on every route,
scopes, merchant binding, revocation, the per-key rate limit, and metrics only on the ops
listener or with an admin key. Keys are made with `paynode apikeys` while the service runs."""
import json
import time
import urllib.error
import urllib.request

from conftest import Broker, api_key, paynode


def call(port, method, path, key=None, body=None, headers=None):
    headers = dict(headers or {})
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def order(merchant, idempotency):
    return {"merchantId": merchant, "amount": 1200, "currency": "EUR", "paymentMethod": "tok_visa", "psp": "stripe"}, \
        {"Idempotency-Key": idempotency}


def create(port, key, merchant, idempotency):
    body, headers = order(merchant, idempotency)
    return call(port, "POST", "/v1/payment-orders", key, body, headers)


def error_code(raw):
    return json.loads(raw)["error"]["code"]


def start(data_dir, *extra):
    # The tables exist once the service has started; keys made while it runs are seen.
    return Broker(data_dir, node="service", auth=True, extra_args=list(extra)).start()


def test_keys_scopes_merchants_and_revocation(data_dir):
    node = start(data_dir)
    try:
        writer_a = api_key(data_dir, "--merchant", "m_a", "--label", "merchant A")
        writer_b = api_key(data_dir, "--merchant", "m_b")
        reader_a = api_key(data_dir, "--merchant", "m_a", "--scope", "orders:read")
        admin = api_key(data_dir, "--scope", "admin")
        assert writer_a.startswith("pk_") and len(writer_a) == 43
        port = node.http_port

        status, headers, raw = call(port, "GET", "/v1/payment-orders")
        assert status == 401 and error_code(raw) == "unauthenticated"
        assert headers.get("WWW-Authenticate", "").startswith("Bearer")
        status, headers, raw = call(port, "GET", "/v1/payment-orders", key="pk_" + "x" * 40)
        assert status == 401 and error_code(raw) == "unauthenticated" and "Bearer" in headers["WWW-Authenticate"]
        status, _, raw = call(port, "GET", "/v1/payment-orders", headers={"Authorization": "Basic Zm9vOmJhcg=="})
        assert status == 401

        status, _, raw = create(port, writer_a, "m_a", "a-1")
        assert status == 201, raw
        order_a = json.loads(raw)["paymentOrderId"]
        status, _, raw = create(port, writer_b, "m_b", "b-1")
        assert status == 201, raw
        order_b = json.loads(raw)["paymentOrderId"]

        # A read-only key cannot create; a merchant key cannot create for another merchant.
        status, _, raw = create(port, reader_a, "m_a", "a-ro")
        assert status == 403 and error_code(raw) == "forbidden"
        status, _, raw = create(port, writer_a, "m_b", "a-for-b")
        assert status == 403 and error_code(raw) == "forbidden"

        # Another merchant's order does not exist for this key, nor its audit trail.
        assert call(port, "GET", f"/v1/payment-orders/{order_a}", reader_a)[0] == 200
        status, _, raw = call(port, "GET", f"/v1/payment-orders/{order_b}", writer_a)
        assert status == 404 and error_code(raw) == "not_found"
        assert call(port, "GET", f"/v1/payment-orders/{order_b}/audit", reader_a)[0] == 404
        assert call(port, "GET", f"/v1/payment-orders/{order_b}", writer_b)[0] == 200

        def listed(key):
            status, _, raw = call(port, "GET", "/v1/payment-orders?limit=100", key)
            assert status == 200, raw
            return {view["paymentOrderId"] for view in json.loads(raw)["orders"]}

        assert listed(reader_a) == {order_a}
        assert listed(writer_b) == {order_b}
        assert listed(admin) == {order_a, order_b}
        assert call(port, "GET", f"/v1/payment-orders/{order_b}", admin)[0] == 200

        # Listing shows prefixes, never a key; revocation is seen by the running service.
        listing = paynode("apikeys", "list", "--data-dir", data_dir)
        assert writer_a[:12] in listing and writer_a not in listing and "merchant A" in listing
        paynode("apikeys", "revoke", "--data-dir", data_dir, writer_a[:12])
        assert "revoked" in paynode("apikeys", "list", "--data-dir", data_dir)

        def refused():
            return call(port, "GET", "/v1/payment-orders", writer_a)[0] == 401
        deadline = time.time() + 10
        while not refused():
            assert time.time() < deadline, "the revoked key still works after 10 s"
            time.sleep(0.2)

        # The log names key prefixes, never a key.
        for key in (writer_a, writer_b, reader_a, admin):
            assert key not in node.log()
    finally:
        node.stop()


def test_expired_key_is_refused(data_dir):
    node = start(data_dir)
    try:
        key = api_key(data_dir, "--merchant", "m_a", "--expires-in-days", "0.00002")  # about 1.7 s
        time.sleep(2.5)
        status, _, raw = call(node.http_port, "GET", "/v1/payment-orders", key)
        assert status == 401 and "expired" in json.loads(raw)["error"]["message"]
    finally:
        node.stop()


def test_rate_limit_answers_429_with_retry_after(data_dir):
    node = start(data_dir)
    try:
        limited = api_key(data_dir, "--merchant", "m_a", "--rate-limit", "0.2", "--burst", "3")
        other = api_key(data_dir, "--merchant", "m_a")
        statuses = [call(node.http_port, "GET", "/v1/payment-orders", limited)[0] for _ in range(3)]
        assert statuses == [200, 200, 200]
        status, headers, raw = call(node.http_port, "GET", "/v1/payment-orders", limited)
        assert status == 429 and error_code(raw) == "rate_limited"
        assert int(headers["Retry-After"]) >= 1
        # The limit is per key: another key is unaffected.
        assert call(node.http_port, "GET", "/v1/payment-orders", other)[0] == 200
    finally:
        node.stop()


def test_metrics_need_an_admin_key_on_the_main_listener_and_are_open_on_ops(data_dir):
    node = start(data_dir)
    try:
        merchant = api_key(data_dir, "--merchant", "m_a")
        admin = api_key(data_dir, "--scope", "admin")
        assert call(node.http_port, "GET", "/v1/payment-orders")[0] == 401
        assert call(node.http_port, "GET", "/metrics")[0] == 401
        assert call(node.http_port, "GET", "/healthz")[0] == 401
        assert call(node.http_port, "GET", "/metrics", merchant)[0] == 403
        status, _, raw = call(node.http_port, "GET", "/metrics", admin)
        assert status == 200 and b"paynode_http_auth_failures_total" in raw
        assert node.ops_port and node.ops_port != node.http_port
        status, _, raw = call(node.ops_port, "GET", "/metrics")
        assert status == 200
        text = raw.decode()
        assert 'paynode_http_auth_failures_total{reason="missing"} 3' in text, text
        assert 'paynode_http_auth_failures_total{reason="scope"} 1' in text
        assert call(node.ops_port, "GET", "/readyz")[0] == 200
        # The ops listener serves no payment API.
        assert call(node.ops_port, "GET", "/v1/payment-orders", admin)[0] == 404
    finally:
        node.stop()


def test_keys_made_before_the_first_start_and_auth_off(data_dir):
    key = api_key(data_dir, "--merchant", "m_a")  # the service has never run here
    node = start(data_dir)
    try:
        assert call(node.http_port, "GET", "/v1/payment-orders", key)[0] == 200
    finally:
        node.stop()
    node = Broker(data_dir, node="service").start()  # conftest's default: --http-auth off
    try:
        assert call(node.http_port, "GET", "/v1/payment-orders")[0] == 200
        assert "HTTP authentication is off" in node.log()
    finally:
        node.stop()


def test_hostile_authorization_headers_get_401_and_the_service_stays_up(data_dir):
    node = start(data_dir)
    try:
        key = api_key(data_dir, "--merchant", "m_a")
        for value in ["Bearer " + "A" * 60000, "Bearer  ", "Bearer pk_", "bearer " + key + " " + key, "Bearer " + key[:-1] + "!",
                      "Bearer\t" + key, "Token " + key, "Bearer " + key.lower() if key != key.lower() else "Bearer pk_" + "0" * 39]:
            status, headers, raw = call(node.http_port, "GET", "/v1/payment-orders", headers={"Authorization": value})
            assert status == 401, (value[:40], status)
            assert error_code(raw) == "unauthenticated" and "Bearer" in headers["WWW-Authenticate"]
        assert call(node.http_port, "GET", "/v1/payment-orders", key)[0] == 200
        status, _, raw = call(node.ops_port, "GET", "/metrics")
        assert 'paynode_http_auth_failures_total{reason="malformed"}' in raw.decode()
    finally:
        node.stop()
