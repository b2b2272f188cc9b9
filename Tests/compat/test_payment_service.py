"""`paynode service` as a separate process: the payment API over HTTP, PSP results produced by
a real Kafka client into its embedded log, and what the consumer makes of them (transitions,
duplicates, out-of-order results, conflicts, dead letters), checked through the API and topics."""
import json
import subprocess
import time
import urllib.error
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import PAYNODE, Broker, api_key

SCHEMA_HEADERS = [("paynode-schema", b"paynode.events.v1.PspResultUpdateEvent"), ("paynode-schema-version", b"1")]
STATUS = {"SUCCESSFUL": 1, "FAILED": 2, "PENDING": 3}


def varint(value):
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, value):
    """Protobuf wire encoding of one field: strings as length-delimited, ints as varints."""
    if isinstance(value, str):
        data = value.encode()
        return varint(number << 3 | 2) + varint(len(data)) + data
    return varint(number << 3) + varint(value)


def psp_result(order_id, status, reference="pi_1", error_code=None):
    body = field(1, order_id) + field(2, STATUS[status])
    if reference is not None:
        body += field(3, reference)
    body += field(4, 1_700_000_000_000)
    if error_code is not None:
        body += field(5, error_code)
    return body + field(7, "stripe")


class Api:
    def __init__(self, port, key=None):
        self.base = f"http://127.0.0.1:{port}"
        self.auth = {"Authorization": f"Bearer {key}"} if key else {}

    def call(self, method, path, body=None, headers=None):
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        request = urllib.request.Request(self.base + path, data=data, method=method, headers={**self.auth, **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read() or b"null")

    def create(self, key, token="tok_visa", amount=5000):
        return self.call("POST", "/v1/payment-orders", {"merchantId": "m_1", "amount": amount, "currency": "EUR",
                                                        "paymentMethod": token, "psp": "stripe"},
                         {"Idempotency-Key": key, "Content-Type": "application/json",
                          "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})


def wait_for(condition, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def read_all(bootstrap, topic, client=None):
    """Every record of `topic`; `client`: extra confluent-kafka settings (security)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "checker", "enable.auto.commit": False, **(client or {})})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    records, idle = [], time.time()
    while time.time() - idle < 2:
        batch = [m for m in consumer.consume(num_messages=500, timeout=0.3) if m.error() is None]
        if batch:
            idle = time.time()
        records.extend(batch)
    consumer.close()
    return records


def test_api_and_result_processing(data_dir):
    # With authentication on and a merchant key, as in production.
    node = Broker(data_dir, node="service", auth=True).start()
    api = Api(node.http_port, api_key(data_dir, "--merchant", "m_1"))
    try:
        status, _, visa = api.create("order-visa")
        assert status == 201 and visa["status"] == "PENDING"
        status, headers, replay = api.create("order-visa")
        assert status == 201 and headers.get("Idempotent-Replayed") == "true" and replay == visa
        status, _, reused = api.create("order-visa", amount=1)
        assert status == 422 and reused["error"]["code"] == "idempotency_key_reused"
        status, _, invalid = api.call("POST", "/v1/payment-orders", {"merchantId": "m", "amount": -1, "currency": "EUR",
                                                                     "paymentMethod": "tok_visa", "psp": "stripe"},
                                      {"Idempotency-Key": "bad"})
        assert status == 400 and invalid["error"]["code"] == "invalid_amount"
        assert api.call("GET", "/v1/payment-orders/01a20a1d-1df5-7000-82b1-4b8a7559036f")[0] == 404
        _, _, pending = api.create("order-pending", token="tok_pending")
        _, _, declined = api.create("order-declined", token="tok_chargeDeclined")

        # PaymentOrderCreated records are on payment-orders for the executor.
        created = read_all(node.bootstrap, "payment-orders")
        assert sorted(m.key().decode() for m in created) == sorted([visa["paymentOrderId"], pending["paymentOrderId"],
                                                                    declined["paymentOrderId"]])
        assert all(dict(m.headers())["paynode-schema"] == b"paynode.events.v1.PaymentOrderCreated" for m in created)

        producer = Producer({"bootstrap.servers": node.bootstrap, "enable.idempotence": True})
        results = [(visa, "SUCCESSFUL", "pi_v", None), (pending, "PENDING", "pi_p", None),
                   (pending, "SUCCESSFUL", "pi_p", None), (declined, "FAILED", "pi_d", "card_declined")]
        for _ in range(3):  # every result three times
            for order, status, reference, error in results:
                producer.produce("psp-result-updates", key=order["paymentOrderId"].encode(),
                                 value=psp_result(order["paymentOrderId"], status, reference, error), headers=SCHEMA_HEADERS)
        # Out of order: a PENDING arriving after the order failed, and a contradicting FAILED.
        producer.produce("psp-result-updates", key=declined["paymentOrderId"].encode(),
                         value=psp_result(declined["paymentOrderId"], "PENDING", "pi_d"), headers=SCHEMA_HEADERS)
        producer.produce("psp-result-updates", key=visa["paymentOrderId"].encode(),
                         value=psp_result(visa["paymentOrderId"], "FAILED", "pi_v", "card_declined"), headers=SCHEMA_HEADERS)
        assert producer.flush(30) == 0
        # Poison: garbage bytes, and a result for an order that does not exist (from an idempotent
        # producer: results from producers without a producer id are refused before decoding).
        producer.produce("psp-result-updates", key=b"junk", value=b"\xff\x00garbage")
        producer.produce("psp-result-updates", key=b"ghost", headers=SCHEMA_HEADERS,
                         value=psp_result("01a20a1d-1df5-7000-82b1-4b8a7559036f", "SUCCESSFUL"))
        assert producer.flush(30) == 0

        def order(view):
            return api.call("GET", f"/v1/payment-orders/{view['paymentOrderId']}")[2]

        wait_for(lambda: order(visa)["status"] == "SUCCESSFUL" and order(pending)["status"] == "SUCCESSFUL"
                 and order(declined)["status"] == "FAILED", 30, "terminal statuses")
        dead = wait_for(lambda: (lambda r: r if len(r) == 2 else None)(read_all(node.bootstrap, "psp-result-updates.dlq")),
                        30, "two dead letters")
        reasons = sorted(dict(m.headers())["paynode-dlq-reason"].decode() for m in dead)
        assert any("unknown payment order" in reason for reason in reasons)
        assert any("paynode-schema" in reason for reason in reasons)
        assert all("paynode-dlq-source-offset" in dict(m.headers()) for m in dead)

        for view, expected in ((visa, "SUCCESSFUL"), (pending, "SUCCESSFUL"), (declined, "FAILED")):
            history = order(view)["history"]
            assert [h["outcome"] for h in history].count("applied") == 1, history
            assert all(h["topic"] == "psp-result-updates" and isinstance(h["offset"], int) for h in history)
        assert [h["outcome"] for h in order(visa)["history"]][-1] == "conflict"
        assert [h["outcome"] for h in order(declined)["history"]][-1] == "stale"
        assert order(declined)["errorCode"] == "card_declined"
        assert order(visa)["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"

        events = read_all(node.bootstrap, "payment-events")
        assert sorted(m.key().decode() for m in events) == sorted(v["paymentOrderId"] for v in (visa, pending, declined))
        schemas = sorted(dict(m.headers())["paynode-schema"].decode() for m in events)
        assert schemas == ["paynode.events.v1.PaymentFailed", "paynode.events.v1.PaymentSucceeded", "paynode.events.v1.PaymentSucceeded"]

        status, _, listing = api.call("GET", "/v1/payment-orders?status=SUCCESSFUL&limit=1")
        assert status == 200 and len(listing["orders"]) == 1 and listing["nextCursor"]
        _, _, page2 = api.call("GET", f"/v1/payment-orders?status=SUCCESSFUL&limit=1&cursor={listing['nextCursor']}")
        assert {listing["orders"][0]["paymentOrderId"], page2["orders"][0]["paymentOrderId"]} == \
            {visa["paymentOrderId"], pending["paymentOrderId"]}
        assert page2["nextCursor"] is None
        # The group's lag is zero: every result (and dead letter) is committed.
        lag = subprocess.run([PAYNODE, "groups", "describe", "payment-service", "--topic", "psp-result-updates",
                              "--bootstrap-servers", node.bootstrap], capture_output=True, text=True, timeout=60).stdout
        # Metrics by outcome, Prometheus-named.
        with urllib.request.urlopen(f"http://127.0.0.1:{node.ops_port}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        assert 'paynode_psp_results_total{outcome="applied"} 3' in metrics, metrics
        assert 'paynode_psp_results_total{outcome="dead_lettered"} 2' in metrics
        assert 'paynode_psp_results_total{outcome="conflict"} 1' in metrics
        assert "paynode_psp_result_to_commit_seconds_count 3" in metrics
        assert "paynode_store_commits_total" in metrics and "paynode_kafka_requests_total" in metrics
        rows = [line for line in lag.splitlines() if "high-watermark=" in line]
        assert len(rows) == 3, lag
        # Every partition is fully consumed (an empty partition has nothing to commit).
        assert all("lag=0" in row or ("committed=-" in row and "high-watermark=0" in row) for row in rows), lag
    finally:
        node.stop()



def pipelined(port, requests):
    """Writes `requests` (raw HTTP/1.1, the last with Connection: close) in one segment and
    returns the answers in the order they came: (status, headers, body)."""
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"".join(requests))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    answers = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        answers.append((int(lines[0].split()[1]), headers, json.loads(rest[:length] or b"null")))
        data = rest[length:]
    return answers


def order_request(key, token="tok_visa", close=False, api_key=None):
    body = json.dumps({"merchantId": "m_pipe", "amount": 700, "currency": "EUR", "paymentMethod": token, "psp": "stripe"}).encode()
    return (b"POST /v1/payment-orders HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + (f"Authorization: Bearer {api_key}\r\n".encode() if api_key else b"")
            + f"Idempotency-Key: {key}\r\nContent-Length: {len(body)}\r\n".encode()
            + (b"Connection: close\r\n" if close else b"") + b"\r\n" + body)


def test_pipelined_requests_answer_in_order_as_if_served_in_turn(data_dir):
    """Creations pipelined on one connection run side by side (they share group commits), yet
    the connection behaves as if they were served one at a time: answers in request order, a
    repeated key is a replay of the first, and a GET after them sees every one of them."""
    node = Broker(data_dir, node="service", auth=True).start()
    try:
        # Every request carries a merchant key: the check runs on the pipelined hot path.
        secret = api_key(data_dir, "--merchant", "m_pipe")
        auth = f"Authorization: Bearer {secret}\r\n".encode()
        keys = [f"pipe-{i}" for i in range(24)]
        requests = [order_request(key, api_key=secret) for key in keys]
        requests.insert(5, order_request("pipe-0", api_key=secret))  # the same key again, pipelined behind the first
        requests.append(b"GET /v1/payment-orders?limit=100 HTTP/1.1\r\nHost: test\r\n" + auth + b"\r\n")
        requests.append(b"POST /v1/payment-orders HTTP/1.1\r\nHost: test\r\n" + auth + b"Content-Length: 9\r\n\r\nnot json!")
        requests.append(order_request("pipe-anonymous"))  # no key: 401 in its turn, the connection goes on
        requests.append(order_request("pipe-last", close=True, api_key=secret))
        answers = pipelined(node.http_port, requests)
        assert len(answers) == len(requests)
        creations = answers[:5] + answers[6:25]
        assert [status for status, _, _ in creations] == [201] * 24
        ids = [body["paymentOrderId"] for _, _, body in creations]
        assert len(set(ids)) == 24
        replay_status, replay_headers, replay = answers[5]
        assert replay_status == 201 and replay_headers.get("idempotent-replayed") == "true"
        assert replay["paymentOrderId"] == ids[0]
        list_status, _, listing = answers[25]
        assert list_status == 200
        assert set(ids) <= {order["paymentOrderId"] for order in listing["orders"]}
        bad_status, _, bad = answers[26]
        assert bad_status == 400 and "error" in bad
        anonymous_status, anonymous_headers, anonymous = answers[27]
        assert anonymous_status == 401 and anonymous["error"]["code"] == "unauthenticated"
        assert anonymous_headers.get("www-authenticate", "").startswith("Bearer")
        last_status, _, last = answers[28]
        assert last_status == 201 and last["paymentOrderId"] not in ids
        # Served by the pipelined channel: the headers Hummingbird's application gave.
        assert all("date" in headers and headers.get("server") == "paynode" for _, headers, _ in answers)
    finally:
        node.stop()


def test_a_malformed_pipelined_request_is_answered_after_the_ones_before_it(data_dir):
    node = Broker(data_dir, node="service").start()
    try:
        answers = pipelined(node.http_port, [order_request("mal-1"), order_request("mal-2"), b"BROKEN\r\n\r\n", order_request("mal-never")])
        assert [status for status, _, _ in answers] == [201, 201, 400]
        assert answers[2][1].get("connection") == "close"
        # The request after the malformed one never ran (its key is new); the ones before it did.
        (never, never_headers, _), (again, headers, _) = pipelined(node.http_port, [order_request("mal-never"), order_request("mal-1", close=True)])
        assert never == 201 and "idempotent-replayed" not in never_headers
        assert again == 201 and headers.get("idempotent-replayed") == "true"
    finally:
        node.stop()


def test_oversized_bodies_are_refused_without_losing_the_connection_or_the_node(data_dir):
    """Over the API's 64 KiB: 413 from the route, the connection stays usable. Over the node's
    256 KiB read-ahead bound: 413 from the server, after the answers before it, and it closes."""
    node = Broker(data_dir, node="service").start()
    try:
        big = b"x" * (100 << 10)
        over_api = (b"POST /v1/payment-orders HTTP/1.1\r\nHost: test\r\nIdempotency-Key: big-1\r\n"
                    + f"Content-Length: {len(big)}\r\n\r\n".encode() + big)
        answers = pipelined(node.http_port, [over_api, order_request("big-ok", close=True)])
        assert [status for status, _, _ in answers] == [413, 201]
        assert answers[0][2]["error"]["code"] == "body_too_large"
        huge = b"x" * (300 << 10)
        over_node = (b"POST /v1/payment-orders HTTP/1.1\r\nHost: test\r\nIdempotency-Key: huge-1\r\n"
                     + f"Content-Length: {len(huge)}\r\n\r\n".encode() + huge)
        answers = pipelined(node.http_port, [order_request("huge-before"), over_node, order_request("huge-never")])
        assert [status for status, _, _ in answers] == [201, 413]
        assert answers[1][1].get("connection") == "close" and answers[1][2]["error"]["code"] == "body_too_large"
        assert Api(node.http_port).call("GET", "/healthz")[0] == 200
    finally:
        node.stop()
