"""SASL on the Kafka listener: `paynode broker --kafka-security-protocol SASL_PLAINTEXT` with users
added by `paynode users add`; kcat, confluent-kafka and kafka-python produce, consume and join a
consumer group with SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN; wrong passwords and unknown users
are refused alike; a client that skips SASL is cut off; `paynode users list` shows no secrets;
and `paynode service` + `paynode executor` carry a payment to a terminal state over SASL."""
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from kafka import KafkaConsumer, KafkaProducer
from kafka import errors as kafka_errors

from conftest import PAYNODE, Broker, paynode

MECHANISMS = ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
PASSWORD = "correct horse battery staple"


def add_user(data_dir, name, password, *extra, stdin=False):
    if stdin:
        result = subprocess.run([PAYNODE, "users", "add", "--data-dir", data_dir, "--name", name, *extra],
                                input=password + "\n", capture_output=True, text=True, timeout=60)
    else:
        with tempfile.NamedTemporaryFile("w", suffix=f"-{name}.password", delete=False) as handle:
            handle.write(password + "\n")
            path = handle.name
        result = subprocess.run([PAYNODE, "users", "add", "--data-dir", data_dir, "--name", name, "--password-file", path, *extra],
                                capture_output=True, text=True, timeout=60)
        os.unlink(path)
    assert result.returncode == 0, result.stderr
    assert password not in result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def secured():
    root = tempfile.mkdtemp(prefix="paynode-sasl-")
    data = os.path.join(root, "data")
    add_user(data, "alice", PASSWORD)
    add_user(data, "bob", "bob-only-256", "--mechanism", "SCRAM-SHA-256", "--iterations", "4096", stdin=True)
    node = Broker(data, extra_args=["--kafka-security-protocol", "SASL_PLAINTEXT"]).start()
    yield node
    node.stop()
    shutil.rmtree(root, ignore_errors=True)


def confluent_config(broker, mechanism, user="alice", password=PASSWORD, **extra):
    return {"bootstrap.servers": broker.bootstrap, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": mechanism,
            "sasl.username": user, "sasl.password": password, **extra}


def python_config(broker, mechanism, user="alice", password=PASSWORD):
    return dict(bootstrap_servers=broker.bootstrap, security_protocol="SASL_PLAINTEXT", sasl_mechanism=mechanism,
                sasl_plain_username=user, sasl_plain_password=password)


def test_users_list_shows_names_and_mechanisms_never_secrets(secured):
    # The listing needs the data directory, which the running broker locks: copy it.
    copy = secured.data_dir + "-copy"
    shutil.copytree(secured.data_dir, copy, ignore=shutil.ignore_patterns("paynode.lock"))
    listing = paynode("users", "list", "--data-dir", copy)
    lines = sorted(listing.strip().splitlines())
    assert lines == ["alice  SCRAM-SHA-256,SCRAM-SHA-512", "bob  SCRAM-SHA-256"], listing
    assert PASSWORD not in listing and "bob-only-256" not in listing
    # Nothing in the store holds the password itself.
    for directory, _, files in os.walk(copy):
        for name in files:
            with open(os.path.join(directory, name), "rb") as handle:
                assert PASSWORD.encode() not in handle.read()
    paynode("users", "remove", "--data-dir", copy, "--name", "bob")
    assert paynode("users", "list", "--data-dir", copy).strip() == "alice  SCRAM-SHA-256,SCRAM-SHA-512"
    refused = subprocess.run([PAYNODE, "users", "add", "--data-dir", copy, "--name", "carol", "--iterations", "1000"],
                             input="x\n", capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "4096" in refused.stderr


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_kcat_produces_and_consumes(secured, mechanism):
    topic = f"kcat-{mechanism.lower()}"
    security = ["-X", "security.protocol=SASL_PLAINTEXT", "-X", f"sasl.mechanisms={mechanism}",
                "-X", "sasl.username=alice", "-X", f"sasl.password={PASSWORD}"]
    produced = subprocess.run(["kcat", "-b", secured.bootstrap, *security, "-t", topic, "-P", "-K:"],
                              input="k1:one\nk2:two\n", capture_output=True, text=True, timeout=60)
    assert produced.returncode == 0, produced.stderr
    consumed = subprocess.run(["kcat", "-b", secured.bootstrap, *security, "-G", f"kcat-group-{mechanism}", topic,
                               "-o", "beginning", "-c", "2", "-f", "%k=%s\n"],
                              capture_output=True, text=True, timeout=90)
    assert consumed.returncode == 0, consumed.stderr
    assert sorted(consumed.stdout.split()) == ["k1=one", "k2=two"]


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_confluent_kafka_produce_consume_group(secured, mechanism):
    topic = f"ck-{mechanism.lower()}"
    producer = Producer(confluent_config(secured, mechanism))
    for index in range(5):
        producer.produce(topic, key=f"k{index}".encode(), value=f"v{index}".encode())
    assert producer.flush(30) == 0
    consumer = Consumer(confluent_config(secured, mechanism, **{"group.id": f"ck-group-{mechanism}", "auto.offset.reset": "earliest"}))
    consumer.subscribe([topic])
    received = []
    deadline = time.time() + 60
    while len(received) < 5 and time.time() < deadline:
        message = consumer.poll(1.0)
        if message is not None and message.error() is None:
            received.append(message.value())
    consumer.commit(asynchronous=False)
    consumer.close()
    assert sorted(received) == [f"v{index}".encode() for index in range(5)]


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_kafka_python_produce_consume_group(secured, mechanism):
    topic = f"kp-{mechanism.lower()}"
    producer = KafkaProducer(**python_config(secured, mechanism))
    for index in range(5):
        producer.send(topic, key=f"k{index}".encode(), value=f"v{index}".encode()).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(topic, group_id=f"kp-group-{mechanism}", auto_offset_reset="earliest", **python_config(secured, mechanism))
    received = []
    deadline = time.time() + 60
    while len(received) < 5 and time.time() < deadline:
        for records in consumer.poll(timeout_ms=1000).values():
            received.extend(record.value for record in records)
    consumer.commit()
    consumer.close()
    assert sorted(received) == [f"v{index}".encode() for index in range(5)]


def confluent_refusal(secured, mechanism, user, password):
    """The authentication error librdkafka reports, without its timing suffix."""
    errors = []
    producer = Producer(confluent_config(secured, mechanism, user, password, error_cb=lambda error: errors.append(error)))
    producer.produce("refused", b"x")
    deadline = time.time() + 20
    while not any(error.code() == KafkaError._AUTHENTICATION for error in errors) and time.time() < deadline:
        producer.poll(0.2)
    authentication = [error.str() for error in errors if error.code() == KafkaError._AUTHENTICATION]
    assert authentication, errors
    return authentication[0].split(" (after")[0].split(": ", 1)[-1]


def python_refusal(secured, mechanism, user, password, caplog):
    """kafka-python keeps retrying a refused bootstrap; the refusal is in its log. A fixed
    `api_version`: probing the version of a broker that refuses the login waits out kafka-python's
    30 s bootstrap timeout before the producer even tries to send (a minute a test)."""
    caplog.clear()
    with pytest.raises(kafka_errors.KafkaError):
        producer = KafkaProducer(**python_config(secured, mechanism, user, password), max_block_ms=4000, api_version=(2, 5, 0))
        producer.send("refused", b"x").get(timeout=5)
    return caplog.text


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_wrong_password_and_unknown_user_are_refused_alike(secured, mechanism, caplog):
    wrong = confluent_refusal(secured, mechanism, "alice", "not the password")
    unknown = confluent_refusal(secured, mechanism, "mallory", PASSWORD)
    assert "invalid credentials" in wrong, wrong
    assert wrong == unknown, (wrong, unknown)
    for user, password in (("alice", "not the password"), ("mallory", PASSWORD)):
        log = python_refusal(secured, mechanism, user, password, caplog)
        assert "SaslAuthenticationFailedError" in log and "invalid credentials" in log, log[-2000:]


def test_mechanism_without_a_credential_is_refused_but_plain_uses_another(secured):
    # bob has only SCRAM-SHA-256: SCRAM-SHA-512 fails like a wrong password, PLAIN checks the SHA-256 credential.
    assert "invalid credentials" in confluent_refusal(secured, "SCRAM-SHA-512", "bob", "bob-only-256")
    producer = KafkaProducer(**python_config(secured, "PLAIN", "bob", "bob-only-256"))
    producer.send("bob-topic", b"x").get(timeout=30)
    producer.close()


def kafka_request(api_key, version, body, correlation_id=1):
    header = struct.pack(">hhih", api_key, version, correlation_id, 4) + b"test"
    return struct.pack(">i", len(header) + len(body)) + header + body


def read_frame(sock):
    size = b""
    while len(size) < 4:
        chunk = sock.recv(4 - len(size))
        if not chunk:
            return None
        size += chunk
    (length,) = struct.unpack(">i", size)
    data = b""
    while len(data) < length:
        chunk = sock.recv(length - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def test_client_that_skips_sasl_is_refused(secured):
    with socket.create_connection(("127.0.0.1", secured.kafka_port), timeout=10) as sock:
        # ApiVersions is answered before authentication, with SaslHandshake and SaslAuthenticate listed.
        sock.sendall(kafka_request(18, 0, b""))
        answer = read_frame(sock)
        (error, count) = struct.unpack(">hi", answer[4:10])
        keys = {struct.unpack(">hhh", answer[10 + 6 * i:16 + 6 * i]) for i in range(count)}
        assert error == 0 and (17, 0, 1) in keys and (36, 0, 2) in keys
        # Metadata (all topics) without authenticating: the connection is closed, nothing answered.
        sock.sendall(kafka_request(3, 1, struct.pack(">i", -1), correlation_id=2))
        assert read_frame(sock) is None
    # confluent-kafka without SASL settings gets no metadata.
    consumer = Consumer({"bootstrap.servers": secured.bootstrap, "group.id": "plaintext", "socket.timeout.ms": 3000})
    with pytest.raises(Exception):
        consumer.list_topics(timeout=5)
    consumer.close()
    # An unsupported mechanism is answered with the enabled list, then the connection closes.
    with socket.create_connection(("127.0.0.1", secured.kafka_port), timeout=10) as sock:
        mechanism = b"GSSAPI"
        sock.sendall(kafka_request(17, 1, struct.pack(">h", len(mechanism)) + mechanism))
        answer = read_frame(sock)
        (error,) = struct.unpack(">h", answer[4:6])
        assert error == 33 and b"SCRAM-SHA-512" in answer and b"PLAIN" in answer
        assert read_frame(sock) is None


def flexible_authenticate(port, user, password, correlation_id=2):
    """SaslHandshake v1, then PLAIN over SaslAuthenticate v2 (flexible: request header v2, compact
    bytes, response header v1) encoded and decoded by kafka-python 3's generated codecs."""
    from kafka.protocol.sasl import SaslAuthenticateRequest, SaslAuthenticateResponse
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    mechanism = b"PLAIN"
    sock.sendall(kafka_request(17, 1, struct.pack(">h", len(mechanism)) + mechanism))
    assert struct.unpack(">h", read_frame(sock)[4:6]) == (0,)
    request = SaslAuthenticateRequest[2](auth_bytes=b"\0" + user.encode() + b"\0" + password.encode())
    request.with_header(correlation_id=correlation_id, client_id="flexible-test")
    sock.sendall(request.encode(version=2, header=True, framed=True))
    frame = read_frame(sock)
    response = SaslAuthenticateResponse.decode(frame, version=2, header=True)
    assert response.header.correlation_id == correlation_id
    return sock, response


def test_flexible_sasl_authenticate_v2_logs_in_and_refuses_alike(secured):
    sock, response = flexible_authenticate(secured.kafka_port, "alice", PASSWORD)
    with sock:
        assert response.error_code == 0 and response.error_message is None, response
        # Authenticated: Metadata (all topics) is answered on the same connection.
        sock.sendall(kafka_request(3, 1, struct.pack(">i", -1), correlation_id=3))
        answer = read_frame(sock)
        assert answer is not None and struct.unpack(">i", answer[:4]) == (3,)
    sock, response = flexible_authenticate(secured.kafka_port, "alice", "wrong")
    with sock:
        assert response.error_code == 58 and response.error_message, response
        assert read_frame(sock) is None


def test_enabled_mechanisms_flag_limits_the_offer(data_dir):
    add_user(data_dir, "alice", PASSWORD)
    node = Broker(data_dir, extra_args=["--kafka-security-protocol", "SASL_PLAINTEXT", "--sasl-enabled-mechanisms", "SCRAM-SHA-512"]).start()
    try:
        errors = []
        producer = Producer(confluent_config(node, "PLAIN", error_cb=lambda error: errors.append(error)))
        producer.produce("t", b"x")
        deadline = time.time() + 20
        while not errors and time.time() < deadline:
            producer.poll(0.2)
        assert any("SCRAM-SHA-512" in error.str() for error in errors), errors
        producer = KafkaProducer(**python_config(node, "SCRAM-SHA-512"))
        producer.send("t", b"x").get(timeout=30)
        producer.close()
        metrics = subprocess.run(["curl", "-s", f"http://127.0.0.1:{node.http_port}/metrics"], capture_output=True, text=True).stdout
        assert 'paynode_kafka_authentications_total{mechanism="SCRAM-SHA-512",result="success"}' in metrics
        assert 'result="refused"' in metrics or 'mechanism="unsupported"' in metrics
    finally:
        node.stop()
    assert "User:alice" in node.log()


def test_service_and_executor_carry_a_payment_over_sasl(data_dir):
    from test_payment_service import Api, wait_for
    service_dir = data_dir + "/service"
    add_user(service_dir, "executor", "executor-password", "--mechanism", "SCRAM-SHA-512")
    # The default executor principal, User:executor: the one whose results are applied.
    service = Broker(service_dir, node="service", extra_args=["--kafka-security-protocol", "SASL_PLAINTEXT",
                                                            "--executor-principal", "User:executor"]).start()
    password_file = data_dir + "-executor.password"
    with open(password_file, "w") as handle:
        handle.write("executor-password\n")
    log = open(data_dir + "-executor.log", "a")
    executor = subprocess.Popen([PAYNODE, "executor", "--data-dir", data_dir + "-executor", "--bootstrap-servers", service.bootstrap,
                                 "--http-listen", "127.0.0.1:0", "--log-level", "warning",
                                 "--kafka-security-protocol", "SASL_PLAINTEXT", "--sasl-mechanism", "SCRAM-SHA-512",
                                 "--sasl-username", "executor", "--sasl-password-file", password_file],
                                stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert "paynode executor ready" in executor.stdout.readline()
        api = Api(service.http_port)
        status, _, body = api.create(f"sasl-{uuid.uuid4()}")
        assert status == 201, body
        order = body["paymentOrderId"]
        view = wait_for(lambda: (lambda v: v if v["status"] != "PENDING" else None)(api.call("GET", f"/v1/payment-orders/{order}")[2]),
                        90, "the payment to reach a terminal state")
        assert view["status"] == "SUCCESSFUL", view
    finally:
        executor.terminate()
        executor.wait(timeout=30)
        service.stop()
    assert "User:executor" in service.log()


def test_sasl_requests_on_a_plaintext_listener_are_illegal_state(broker):
    with socket.create_connection(("127.0.0.1", broker.kafka_port), timeout=10) as sock:
        mechanism = b"PLAIN"
        sock.sendall(kafka_request(17, 1, struct.pack(">h", len(mechanism)) + mechanism))
        answer = read_frame(sock)
        (error,) = struct.unpack(">h", answer[4:6])
        assert error == 34
        assert read_frame(sock) is None


def server_first_salt(port, user):
    """The salt the broker offers `user` in its SCRAM-SHA-256 server-first-message."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        mechanism = b"SCRAM-SHA-256"
        sock.sendall(kafka_request(17, 1, struct.pack(">h", len(mechanism)) + mechanism))
        assert struct.unpack(">h", read_frame(sock)[4:6]) == (0,)
        first = f"n,,n={user},r=fixedclientnonce".encode()
        sock.sendall(kafka_request(36, 1, struct.pack(">i", len(first)) + first, correlation_id=2))
        answer = read_frame(sock)
        (error,) = struct.unpack(">h", answer[4:6])
        assert error == 0
        text = answer[4 + 2 + 2:]  # null error message (length -1)
        (length,) = struct.unpack(">i", text[:4])
        fields = dict(field.split("=", 1) for field in text[4:4 + length].decode().split(","))
        return fields["s"], fields["i"]


def test_unknown_users_salt_is_as_stable_as_a_real_one(data_dir):
    add_user(data_dir, "alice", PASSWORD)
    node = Broker(data_dir, extra_args=["--kafka-security-protocol", "SASL_PLAINTEXT"]).start()
    try:
        real, fake = server_first_salt(node.kafka_port, "alice"), server_first_salt(node.kafka_port, "mallory")
        assert fake != real and len(fake[0]) == len(real[0]) and fake[1] == real[1]
        assert server_first_salt(node.kafka_port, "mallory") == fake
    finally:
        node.stop()
    node.start()
    try:
        assert server_first_salt(node.kafka_port, "alice") == real
        assert server_first_salt(node.kafka_port, "mallory") == fake
    finally:
        node.stop()


@pytest.mark.parametrize("token", [b"x" * (1 << 20), b"n,,n=alice,r=" + bytes(range(256)), b"\xff\xfe\x00", b""],
                         ids=["1MiB", "binary-nonce", "not-utf8", "empty"])
def test_hostile_tokens_are_refused_and_the_broker_lives(secured, token):
    with socket.create_connection(("127.0.0.1", secured.kafka_port), timeout=10) as sock:
        mechanism = b"SCRAM-SHA-512"
        sock.sendall(kafka_request(17, 1, struct.pack(">h", len(mechanism)) + mechanism))
        assert struct.unpack(">h", read_frame(sock)[4:6]) == (0,)
        sock.sendall(kafka_request(36, 1, struct.pack(">i", len(token)) + token, correlation_id=2))
        answer = read_frame(sock)
        assert struct.unpack(">h", answer[4:6]) == (58,)
        assert read_frame(sock) is None
    # SaslAuthenticate before any handshake: ILLEGAL_SASL_STATE, then closed.
    with socket.create_connection(("127.0.0.1", secured.kafka_port), timeout=10) as sock:
        sock.sendall(kafka_request(36, 1, struct.pack(">i", 4) + b"abcd"))
        assert struct.unpack(">h", read_frame(sock)[4:6]) == (34,)
        assert read_frame(sock) is None
    producer = KafkaProducer(**python_config(secured, "SCRAM-SHA-256"))
    producer.send("still-alive", b"x").get(timeout=30)
    producer.close()
