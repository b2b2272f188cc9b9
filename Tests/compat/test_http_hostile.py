"""Hostile HTTP clients against a real `paynode service`: oversized idempotency keys, card
numbers as payment methods, ids and headers that try to forge log lines, slowloris clients and
connection floods. After each, the node is still up and honest orders still work."""
import json
import socket
import time

from confluent_kafka import Producer

from conftest import Broker
from test_payment_service import SCHEMA_HEADERS, Api, psp_result, wait_for

# A Visa test number: passes the Luhn check.
CARD = "4111111111111111"
ORDER = {"merchantId": "m_1", "amount": 5000, "currency": "EUR", "psp": "stripe"}


def start_service(data_dir, *extra):
    return Broker(data_dir, node="service", extra_args=["--log-level", "debug", *extra]).start()


def create(api, key, payment_method="tok_visa"):
    return api.call("POST", "/v1/payment-orders", dict(ORDER, paymentMethod=payment_method),
                    {"Idempotency-Key": key, "Content-Type": "application/json"})


def raw_exchange(port, data, timeout=10):
    """Sends raw bytes on a new connection and returns all the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(data)
        received = b""
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                return received
            received += chunk


def honest_order_completes(service, api, key):
    status, _, created = create(api, key)
    assert status == 201, created
    order_id = created["paymentOrderId"]
    producer = Producer({"bootstrap.servers": service.bootstrap, "enable.idempotence": True})  # results come from idempotent producers, as the executor's
    producer.produce("psp-result-updates", key=order_id.encode(), value=psp_result(order_id, "SUCCESSFUL"),
                     headers=SCHEMA_HEADERS)
    producer.flush(30)
    def successful():
        status, headers, order = api.call("GET", f"/v1/payment-orders/{order_id}")
        assert status == 200 and order is not None, (status, headers, order,
                                                     [line for line in service.log().splitlines() if "unrecognised" in line])
        return order["status"] == "SUCCESSFUL"

    wait_for(successful, 30, "the honest order to become SUCCESSFUL")
    return order_id


def test_idempotency_key_is_bounded_in_utf8_bytes(data_dir):
    service = start_service(data_dir)
    try:
        api = Api(service.http_port)
        # 85 three-byte characters are 255 bytes: accepted. One more ASCII byte: refused.
        at_limit = "€" * 85
        status, _, body = create(api, at_limit.encode().decode("latin-1"))
        assert status == 201, body
        # 128 two-byte characters: 128 characters (under 255) but 256 bytes.
        status, _, body = create(api, ("é" * 128).encode().decode("latin-1"))
        assert status == 400, body
        assert body["error"]["code"] == "idempotency_key_too_long"
        status, _, body = create(api, "k" * 256)
        assert status == 400 and body["error"]["code"] == "idempotency_key_too_long"
        status, _, body = create(api, "k" * 255)
        assert status == 201, body
        honest_order_completes(service, api, "honest-after-keys")
    finally:
        service.stop()


def test_card_numbers_are_refused_never_stored_or_logged(data_dir):
    service = start_service(data_dir)
    try:
        api = Api(service.http_port)
        for number in [CARD, "4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444", " 378282246310005 "]:
            status, _, body = create(api, f"card-{number.strip()}", number)
            assert status == 400, (number, body)
            assert body["error"]["code"] == "card_number_not_accepted"
            assert number.strip() not in json.dumps(body)
        # Digits failing Luhn are not a card number (an opaque token as far as the API knows).
        status, _, body = create(api, "not-a-card", "4111111111111112")
        assert status == 201, body
        _, _, listed = api.call("GET", "/v1/payment-orders?limit=100")
        assert all(order["paymentMethod"] != CARD for order in listed["orders"])
        honest_order_completes(service, api, "honest-after-cards")
    finally:
        service.stop()
    log = service.log()
    for text in [CARD, "4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444", "378282246310005"]:
        assert text not in log, f"{text} appears in the node's log"
    # Nor in the store: the data directory's files never hold the number.
    import os
    for root, _, files in os.walk(data_dir):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                assert CARD.encode() not in handle.read(), f"{name} holds the card number"


def test_unknown_order_404_escapes_the_id_and_log_lines_stay_whole(data_dir):
    # Spans are logged: their attributes (the path, the query, the User-Agent) are client input.
    service = start_service(data_dir, "--trace-export", "log")
    try:
        port = service.http_port
        # A quote and a backslash in the path (percent-encoded, decoded by the router).
        answer = raw_exchange(port, b'GET /v1/payment-orders/x%22%5C%0D%0Aforged HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 404"), answer
        parsed = json.loads(body)
        assert parsed["error"]["code"] == "not_found"
        assert b"\r\nforged" not in body and b"\nforged" not in body
        # A very long id is not reflected whole.
        answer = raw_exchange(port, b"GET /v1/payment-orders/" + b"a" * 5000 + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 404"), head
        assert len(body) < 400 and json.loads(body)["error"]["code"] == "not_found"
        # Control characters in a header value that ends up in the log: the traceparent (a
        # malformed one is logged at debug) and the idempotency key of a refused request.
        raw_exchange(port, b"POST /v1/payment-orders HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                     b"Idempotency-Key: evil\x1b[31mkey\r\ntraceparent: 00-\x1b]0;FORGED-LINE\x07\r\n"
                     b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
        # A head beyond the decoder's limits (80 KiB of header fields) is refused, not buffered.
        # (The node closes with the rest of the head unread, so the kernel may reset the
        # connection before the 400 is read: either is a refusal.)
        try:
            answer = raw_exchange(port, b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * (100 << 10) + b"\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 400") and b"malformed_request" in answer, answer[:200]
        except ConnectionResetError:
            pass
        # The HTTP parser refuses C0 controls in headers, but UTF-8 C1 controls (NEL, CSI), the
        # line separator and tabs pass it and reach the span's log line.
        answer = raw_exchange(port, b"GET /v1/payment-orders/evil%0D%0A?q=%0Aa HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                              b"User-Agent: ua\xc2\x85FORGED-NEL\xc2\x9b31m\tx\xe2\x80\xa8y\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 404"), answer
        wait_for(lambda: "FORGED-NEL" in service.log(), 10, "the request's span to be logged")
        # Values from Kafka records reach the log too (the consumer logs results): a forged line
        # in a PSP reference, and in the order id of a result for no known order (dead-lettered).
        order_id = honest_order_completes(service, Api(port), "honest-after-404")
        producer = Producer({"bootstrap.servers": service.bootstrap, "enable.idempotence": True})  # results come from idempotent producers, as the executor's
        producer.produce("psp-result-updates", key=order_id.encode(),
                         value=psp_result(order_id, "FAILED", reference="pi_2\nFORGED reference\x1b[2J\u0085"), headers=SCHEMA_HEADERS)
        producer.produce("psp-result-updates", key=b"evil",
                         value=psp_result("evil\r\nFORGED id\x7f", "SUCCESSFUL"), headers=SCHEMA_HEADERS)
        producer.flush(30)
        wait_for(lambda: "FORGED id" in service.log() and "FORGED reference" in service.log(), 30,
                 "the hostile results to be logged")
    finally:
        service.stop()
    log = service.log()
    assert "\nforged" not in log and "\rforged" not in log
    assert "\x1b" not in log and "\x07" not in log and "\x7f" not in log and "\u0085" not in log
    assert "\u2028" not in log and "\x9b" not in log and "\t" not in log
    assert "user_agent.original=ua\\u{85}FORGED-NEL\\u{9B}31m\\tx\\u{2028}y" in log, [line for line in log.splitlines() if "NEL" in line]
    # Escaped, not dropped: the operator still sees what was sent.
    assert "pi_2\\nFORGED reference\\u{1B}[2J" in log, [line for line in log.splitlines() if "FORGED" in line]
    for line in log.splitlines():
        assert not line.startswith("forged") and not line.startswith("FORGED"), line


def test_slowloris_is_closed_after_the_request_timeout(data_dir):
    service = start_service(data_dir, "--http-request-timeout", "1", "--http-idle-timeout", "2")
    try:
        port = service.http_port
        slow = socket.create_connection(("127.0.0.1", port), timeout=10)
        started = time.time()
        closed_after = None
        # One header byte every 0.2 s: never a whole head; closed about 1 s after the first byte.
        for byte in b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Slow: " + b"a" * 100:
            try:
                slow.sendall(bytes([byte]))
            except OSError:
                closed_after = time.time() - started
                break
            slow.settimeout(0.2)
            try:
                if slow.recv(1) == b"":
                    closed_after = time.time() - started
                    break
            except socket.timeout:
                pass
            except OSError:
                closed_after = time.time() - started
                break
        slow.close()
        assert closed_after is not None, "the slow client was never disconnected"
        assert 0.8 <= closed_after <= 4, closed_after
        # A connection that sends nothing is closed after the idle timeout.
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        started = time.time()
        assert idle.recv(1) == b""
        assert 1.5 <= time.time() - started <= 5
        idle.close()
        # A keep-alive connection between requests is idle, not slow: kept for the idle timeout.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as keep:
            for _ in range(3):
                keep.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                assert keep.recv(65536).startswith(b"HTTP/1.1 200")
                time.sleep(1.3)  # longer than the request timeout, shorter than the idle one
        honest_order_completes(service, Api(port), "honest-after-slowloris")
    finally:
        service.stop()


def metric(port, name):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_connections_beyond_the_limit_are_refused_not_queued(data_dir):
    service = start_service(data_dir, "--http-max-connections", "4", "--http-max-connections-per-address", "0")
    try:
        port = service.http_port
        held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(4)]
        time.sleep(0.3)
        refused = raw_exchange(port, b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        assert refused.startswith(b"HTTP/1.1 503"), refused
        assert b"too_many_connections" in refused
        # A flood of refusals: each counted, logged at most once per 10 s.
        for _ in range(20):
            try:
                raw_exchange(port, b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
            except ConnectionResetError:
                pass
        for connection in held:
            connection.close()
        # Places are given back when connections close: serving resumes.
        wait_for(lambda: raw_exchange(port, b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                 .startswith(b"HTTP/1.1 200"), 10, "a connection to be accepted again")
        assert metric(port, 'paynode_http_connections_refused_total{reason="connection_limit"}') >= 21
        honest_order_completes(service, Api(port), "honest-after-flood")
    finally:
        service.stop()
    warnings = [line for line in service.log().splitlines() if "refusing HTTP connections over a limit" in line]
    assert 1 <= len(warnings) <= 2, warnings


def test_connections_per_address_are_limited(data_dir):
    service = start_service(data_dir, "--http-max-connections-per-address", "2")
    try:
        port = service.http_port
        held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]
        time.sleep(0.3)
        refused = raw_exchange(port, b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        assert refused.startswith(b"HTTP/1.1 503"), refused
        for connection in held:
            connection.close()
        wait_for(lambda: raw_exchange(port, b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                 .startswith(b"HTTP/1.1 200"), 10, "a connection to be accepted again")
        assert metric(port, 'paynode_http_connections_refused_total{reason="address_limit"}') >= 1
    finally:
        service.stop()


def test_status_filter_follows_state_changes_and_history_is_paged(data_dir):
    service = start_service(data_dir, "--order-history-entries", "2")
    try:
        api = Api(service.http_port)
        ids = [create(api, f"status-{index}")[2]["paymentOrderId"] for index in range(6)]
        producer = Producer({"bootstrap.servers": service.bootstrap, "enable.idempotence": True})  # results come from idempotent producers, as the executor's
        for order_id in ids[:2]:
            producer.produce("psp-result-updates", key=order_id.encode(), value=psp_result(order_id, "SUCCESSFUL"),
                             headers=SCHEMA_HEADERS)
        producer.produce("psp-result-updates", key=ids[2].encode(), value=psp_result(ids[2], "FAILED", error_code="card_declined"),
                         headers=SCHEMA_HEADERS)
        # Duplicates of the first order's result: its history grows beyond one page.
        for _ in range(3):
            producer.produce("psp-result-updates", key=ids[0].encode(), value=psp_result(ids[0], "SUCCESSFUL"),
                             headers=SCHEMA_HEADERS)
        producer.flush(30)
        def whole_history(order_id):
            _, _, page = api.call("GET", f"/v1/payment-orders/{order_id}")
            entries, cursor = list(page["history"]), page.get("historyNextCursor")
            while cursor is not None:
                _, _, page = api.call("GET", f"/v1/payment-orders/{order_id}?historyCursor={cursor}")
                entries += page["history"]
                cursor = page.get("historyNextCursor")
            return entries

        wait_for(lambda: len(whole_history(ids[0])) == 4 and api.call("GET", "/v1/payment-orders?status=FAILED")[2]["orders"],
                 30, "the results to be applied")

        def listed(status, limit=100):
            seen, cursor = [], None
            while True:
                path = f"/v1/payment-orders?status={status}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
                status_code, _, page = api.call("GET", path)
                assert status_code == 200, page
                seen += [order["paymentOrderId"] for order in page["orders"]]
                assert all(order["status"] == status for order in page["orders"])
                cursor = page.get("nextCursor")
                if not cursor:
                    return seen

        wait_for(lambda: set(listed("SUCCESSFUL")) == set(ids[:2]), 30, "both SUCCESSFUL orders listed")
        assert listed("FAILED") == [ids[2]]
        assert listed("PENDING") == list(reversed(ids[3:]))
        # Paging by cursor through one status, one order per page, newest first.
        assert listed("PENDING", limit=1) == list(reversed(ids[3:]))

        # History: pages of 2, with a cursor to the rest.
        _, _, first = api.call("GET", f"/v1/payment-orders/{ids[0]}")
        assert len(first["history"]) == 2 and first["historyTruncated"] is True
        assert first["historyNextCursor"] == 2
        _, _, last = api.call("GET", f"/v1/payment-orders/{ids[0]}?historyCursor=2")
        assert len(last["history"]) == 2 and "historyTruncated" not in last
        assert [entry["offset"] for entry in first["history"] + last["history"]] == [entry["offset"] for entry in whole_history(ids[0])]
        assert first["status"] == "SUCCESSFUL"
        status, _, body = api.call("GET", f"/v1/payment-orders/{ids[0]}?historyCursor=-1")
        assert status == 400 and body["error"]["code"] == "invalid_history_cursor"
        # An order within one page reads as before: no truncation fields.
        _, _, short = api.call("GET", f"/v1/payment-orders/{ids[2]}")
        assert "historyTruncated" not in short and "historyNextCursor" not in short
    finally:
        service.stop()
