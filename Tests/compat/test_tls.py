"""TLS on the Kafka listener (security.protocol=SSL) and on the HTTP listeners, with the
development CA of `paynode certs init`: real clients (kcat, confluent-kafka, kafka-python,
Python's ssl, curl) verify the broker against the CA; plaintext, unknown-CA and expired-certificate
connections are refused; SIGHUP swaps the certificate for new connections; mutual TLS refuses a
client without a certificate."""
import datetime
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import time
import urllib.request
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import PAYNODE, Broker, paynode


@pytest.fixture
def certs(tmp_path):
    directory = str(tmp_path / "certs")
    paynode("certs", "init", "--dir", directory)
    return {name: os.path.join(directory, f"{name}.pem")
            for name in ["ca", "ca-key", "server", "server-key", "client", "client-key"]}


def tls_args(certs, *extra):
    return ["--kafka-security-protocol", "SSL", "--tls-cert-file", certs["server"], "--tls-key-file", certs["server-key"], *extra]


@pytest.fixture
def tls_broker(data_dir, certs):
    node = Broker(data_dir, extra_args=tls_args(certs)).start()
    yield node
    node.stop()


def kcat_ssl(broker, certs, *args, input=None, extra=()):
    return subprocess.run(["kcat", "-b", broker.bootstrap, "-X", "security.protocol=SSL",
                           "-X", f"ssl.ca.location={certs['ca']}", *extra, *args],
                          input=input, capture_output=True, text=True, timeout=60)


def server_serial(port, ca):
    """The serial number of the certificate the server presents, read by a verifying client."""
    context = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            # Python pads the hex to whole bytes ("04AB..."); compare numbers, not spellings.
            return format(int(tls.getpeercert()["serialNumber"], 16), "X")


def issue(certs, directory, name, not_before, not_after):
    """A server certificate for 127.0.0.1 signed by the development CA (Python `cryptography`)."""
    with open(certs["ca-key"], "rb") as handle:
        ca_key = serialization.load_pem_private_key(handle.read(), password=None)
    with open(certs["ca"], "rb") as handle:
        ca = x509.load_pem_x509_certificate(handle.read())
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress
    certificate = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
                   .issuer_name(ca.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(not_before).not_valid_after(not_after)
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                               x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}-key.pem")
    with open(cert_path, "wb") as handle:
        handle.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    os.chmod(key_path, 0o600)
    return cert_path, key_path, format(certificate.serial_number, "X")


def test_certs_init_writes_private_keys_owner_only(certs):
    for key in ["ca-key", "server-key", "client-key"]:
        assert os.stat(certs[key]).st_mode & 0o777 == 0o600
    again = subprocess.run([PAYNODE, "certs", "init", "--dir", os.path.dirname(certs["ca"])], capture_output=True, text=True)
    assert again.returncode != 0 and "exists" in again.stderr, "an existing CA must not be replaced without --force"


def test_kcat_produces_and_consumes_over_ssl(tls_broker, certs):
    topic = f"tls-kcat-{uuid.uuid4().hex[:8]}"
    produced = kcat_ssl(tls_broker, certs, "-P", "-t", topic, input="one\ntwo\nthree\n")
    assert produced.returncode == 0, produced.stderr
    consumed = kcat_ssl(tls_broker, certs, "-C", "-t", topic, "-o", "beginning", "-c", "3", "-e")
    assert consumed.returncode == 0, consumed.stderr
    assert sorted(consumed.stdout.split()) == ["one", "three", "two"]  # three partitions: no order across them


def test_confluent_kafka_over_ssl(tls_broker, certs):
    from confluent_kafka import Consumer, Producer
    topic = f"tls-confluent-{uuid.uuid4().hex[:8]}"
    settings = {"bootstrap.servers": tls_broker.bootstrap, "security.protocol": "SSL", "ssl.ca.location": certs["ca"]}
    producer = Producer(settings)
    for index in range(5):
        producer.produce(topic, value=f"m{index}".encode())
    assert producer.flush(30) == 0
    consumer = Consumer({**settings, "group.id": f"g-{uuid.uuid4().hex[:8]}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    values, deadline = [], time.time() + 60
    while len(values) < 5 and time.time() < deadline:
        message = consumer.poll(1.0)
        if message is not None and message.error() is None:
            values.append(message.value().decode())
    consumer.close()
    assert sorted(values) == [f"m{index}" for index in range(5)]


def test_kafka_python_over_ssl(tls_broker, certs):
    from kafka import KafkaConsumer, KafkaProducer
    topic = f"tls-kafka-python-{uuid.uuid4().hex[:8]}"
    ssl_settings = {"security_protocol": "SSL", "ssl_cafile": certs["ca"]}
    producer = KafkaProducer(bootstrap_servers=tls_broker.bootstrap, **ssl_settings)
    for index in range(3):
        producer.send(topic, f"k{index}".encode()).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=tls_broker.bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=15000, **ssl_settings)
    values = [record.value.decode() for _, record in zip(range(3), consumer)]
    consumer.close()
    assert sorted(values) == ["k0", "k1", "k2"]


def test_plaintext_client_is_refused_and_the_broker_stays_up(tls_broker, certs):
    # ApiVersions v0 in plaintext: a TLS listener reads it as a broken handshake and closes.
    body = struct.pack(">hhih", 18, 0, 1, 4) + b"test"
    with socket.create_connection(("127.0.0.1", tls_broker.kafka_port), timeout=10) as raw:
        raw.sendall(struct.pack(">i", len(body)) + body)
        received = b""
        try:
            while True:
                chunk = raw.recv(4096)
                if not chunk:
                    break
                received += chunk
        except ConnectionResetError:
            pass
    assert not received.startswith(b"\x00\x00"), "a plaintext client got a Kafka response from a TLS listener"
    plaintext_kcat = subprocess.run(["kcat", "-b", tls_broker.bootstrap, "-L", "-m", "5"], capture_output=True, text=True, timeout=60)
    assert plaintext_kcat.returncode != 0
    assert tls_broker.process.poll() is None, "the broker must survive plaintext clients"
    assert kcat_ssl(tls_broker, certs, "-L").returncode == 0
    deadline, metrics = time.time() + 10, ""
    while 'reason="tls-handshake"' not in metrics and time.time() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{tls_broker.http_port}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        time.sleep(0.2)
    counted = [line for line in metrics.splitlines() if line.startswith("paynode_kafka_connections_closed_total") and "tls-handshake" in line]
    assert counted and float(counted[0].split()[-1]) >= 1, "refused TLS handshakes are counted"


def test_client_with_an_unknown_ca_is_refused(tls_broker, tmp_path):
    other = str(tmp_path / "other")
    paynode("certs", "init", "--dir", other)
    with pytest.raises(ssl.SSLCertVerificationError):
        server_serial(tls_broker.kafka_port, os.path.join(other, "ca.pem"))
    refused = kcat_ssl(tls_broker, {"ca": os.path.join(other, "ca.pem")}, "-L", "-m", "5")
    assert refused.returncode != 0


def test_expired_server_certificate_is_refused_by_clients(data_dir, certs, tmp_path):
    now = datetime.datetime.now(datetime.timezone.utc)
    cert, key, _ = issue(certs, str(tmp_path), "expired", now - datetime.timedelta(days=10), now - datetime.timedelta(days=1))
    node = Broker(data_dir, extra_args=["--kafka-security-protocol", "SSL", "--tls-cert-file", cert, "--tls-key-file", key]).start()
    try:
        with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
            server_serial(node.kafka_port, certs["ca"])
        assert kcat_ssl(node, certs, "-L", "-m", "5").returncode != 0
    finally:
        node.stop()


def test_sighup_swaps_the_certificate_and_a_bad_file_keeps_the_old(data_dir, certs, tmp_path):
    live = tmp_path / "live"
    live.mkdir()
    now = datetime.datetime.now(datetime.timezone.utc)
    cert, key, first = issue(certs, str(live), "server", now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=30))
    node = Broker(data_dir, extra_args=["--kafka-security-protocol", "SSL", "--tls-cert-file", cert, "--tls-key-file", key,
                                        "--http-tls"]).start()
    try:
        assert server_serial(node.kafka_port, certs["ca"]) == first
        assert server_serial(node.http_port, certs["ca"]) == first

        # A broken rotation: the broker logs why and keeps serving the old certificate.
        with open(cert, "w") as handle:
            handle.write("not a certificate\n")
        node.process.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        while "TLS reload failed" not in node.log() and time.time() < deadline:
            time.sleep(0.2)
        assert "TLS reload failed" in node.log()
        assert server_serial(node.kafka_port, certs["ca"]) == first
        assert node.process.poll() is None

        _, _, second = issue(certs, str(live), "server", now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=30))
        node.process.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        while server_serial(node.kafka_port, certs["ca"]) != second and time.time() < deadline:
            time.sleep(0.2)
        assert server_serial(node.kafka_port, certs["ca"]) == second
        assert server_serial(node.http_port, certs["ca"]) == second, "the HTTP listener shares the reloaded certificate"
        topic = f"tls-reload-{uuid.uuid4().hex[:8]}"
        assert kcat_ssl(node, certs, "-P", "-t", topic, input="after-reload\n").returncode == 0
    finally:
        node.stop()


def test_https_on_the_service_api(data_dir, certs):
    node = Broker(data_dir, node="service", extra_args=["--tls-cert-file", certs["server"], "--tls-key-file", certs["server-key"],
                                                        "--http-tls"]).start()
    try:
        base = f"https://127.0.0.1:{node.http_port}"
        curl = subprocess.run(["curl", "-sS", "--cacert", certs["ca"], f"{base}/healthz"], capture_output=True, text=True, timeout=30)
        assert curl.returncode == 0, curl.stderr
        assert json.loads(curl.stdout) == {"status": "ok"}
        context = ssl.create_default_context(cafile=certs["ca"])
        request = urllib.request.Request(f"{base}/v1/payment-orders", method="POST",
                                         data=json.dumps({"merchantId": "m_tls", "amount": 1200, "currency": "EUR",
                                                          "paymentMethod": "tok_visa", "psp": "stripe"}).encode(),
                                         headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex})
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            assert response.status == 201
            assert json.loads(response.read())["paymentOrderId"]
        unverified = subprocess.run(["curl", "-sS", f"{base}/healthz"], capture_output=True, text=True, timeout=30)
        assert unverified.returncode != 0, "curl must not trust the development CA unless told to"
        plain = subprocess.run(["curl", "-sS", f"http://127.0.0.1:{node.http_port}/healthz"], capture_output=True, text=True, timeout=30)
        assert '"ok"' not in plain.stdout
        assert node.process.poll() is None
    finally:
        node.stop()


def test_mutual_tls_required_refuses_a_client_without_a_certificate(data_dir, certs):
    node = Broker(data_dir, extra_args=tls_args(certs, "--tls-client-ca-file", certs["ca"], "--tls-client-auth", "required")).start()
    try:
        without = kcat_ssl(node, certs, "-L", "-m", "5")
        assert without.returncode != 0
        with_certificate = kcat_ssl(node, certs, "-L", extra=["-X", f"ssl.certificate.location={certs['client']}",
                                                               "-X", f"ssl.key.location={certs['client-key']}"])
        assert with_certificate.returncode == 0, with_certificate.stderr
        assert node.process.poll() is None
    finally:
        node.stop()


def test_broker_refuses_to_start_without_a_certificate(data_dir):
    result = subprocess.run([PAYNODE, "broker", "--data-dir", data_dir, "--kafka-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                             "--kafka-security-protocol", "SSL"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "--tls-cert-file" in result.stderr


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_dev_runs_the_pipeline_over_tls(tmp_path):
    """`paynode dev`: service with SASL_SSL Kafka and HTTPS API, executor as a verifying TLS client
    authenticated as User:executor; a developer's SCRAM user `dev` with its password file."""
    result = subprocess.run([PAYNODE, "dev", "--data-dir", str(tmp_path / "dev"), "--demo-orders", "12",
                             "--kafka-listen", f"127.0.0.1:{free_port()}", "--http-listen", f"127.0.0.1:{free_port()}",
                             "--executor-http-listen", f"127.0.0.1:{free_port()}", "--ledger-http-listen", f"127.0.0.1:{free_port()}"],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "security.protocol=SASL_SSL" in result.stdout and "ssl.ca.location=" in result.stdout
    assert "sasl.username=dev" in result.stdout
    for user in ("executor", "ledger", "dev"):
        assert os.stat(tmp_path / "dev" / "credentials" / f"{user}.password").st_mode & 0o777 == 0o600
    assert "demo: 12 orders" in result.stdout
    # The ledger read payment-events as its own SCRAM user over TLS and balanced the books.
    assert "merchant:EUR:m_demo: balance" in result.stdout and "verify: OK" in result.stdout, result.stdout
    assert os.stat(tmp_path / "dev" / "certs" / "server-key.pem").st_mode & 0o777 == 0o600


def test_loadtest_over_tls_with_a_service_kill(tmp_path):
    """loadtest --tls: SSL Kafka and HTTPS between every part, through the fault proxy, across a
    service SIGKILL (the restarted service serves TLS again)."""
    loadtest = os.environ.get("LOADTEST_BIN", os.path.join(os.path.dirname(PAYNODE), "loadtest"))
    result_path = tmp_path / "result.json"
    result = subprocess.run([loadtest, "--paynode", PAYNODE, "--work-dir", str(tmp_path / "run"), "--output", str(result_path),
                             "--rate", "40", "--duration", "4", "--tls", "--proxy", "--kill", "service", "--kill-interval", "2-3",
                             "--drain-timeout", "120"], capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "PASSED" in result.stdout
    assert os.path.exists(tmp_path / "run" / "certs" / "ca.pem")
    run = json.loads(result_path.read_text())
    assert run["passed"] and run["check"]["violations"] == []
    assert run["check"]["ordersChecked"] >= 100, "most of the 160 offered orders were accepted over HTTPS"


def test_mutual_tls_names_the_principal_after_the_certificate_cn(data_dir, certs):
    node = Broker(data_dir, extra_args=tls_args(certs, "--tls-client-ca-file", certs["ca"], "--log-level", "debug")).start()
    try:
        listed = kcat_ssl(node, certs, "-L", extra=["-X", f"ssl.certificate.location={certs['client']}",
                                                     "-X", f"ssl.key.location={certs['client-key']}"])
        assert listed.returncode == 0, listed.stderr
        deadline = time.time() + 10
        while "principal=User:dev-client" not in node.log() and time.time() < deadline:
            time.sleep(0.2)
        assert "principal=User:dev-client" in node.log()
    finally:
        node.stop()


def test_admin_commands_connect_over_ssl_and_verify_the_broker(tls_broker, certs, tmp_path):
    topic = f"tls-admin-{uuid.uuid4().hex[:8]}"
    base = ["--bootstrap-servers", tls_broker.bootstrap, "--kafka-security-protocol", "SSL"]
    paynode("topics", "create", topic, *base, "--tls-ca-file", certs["ca"])
    assert topic in paynode("topics", "list", *base, "--tls-ca-file", certs["ca"])
    # The same through the environment, as nodes are configured in containers.
    environment = {**os.environ, "PAYNODE_KAFKA_SECURITY_PROTOCOL": "SSL", "PAYNODE_TLS_CA_FILE": certs["ca"],
                   "PAYNODE_BOOTSTRAP_SERVERS": tls_broker.bootstrap}
    listed = subprocess.run([PAYNODE, "topics", "list"], capture_output=True, text=True, timeout=60, env=environment)
    assert listed.returncode == 0 and topic in listed.stdout, listed.stderr
    # Another CA: the broker is not trusted, the command fails instead of talking to it.
    other = str(tmp_path / "other")
    paynode("certs", "init", "--dir", other)
    refused = subprocess.run([PAYNODE, "topics", "list", *base, "--tls-ca-file", os.path.join(other, "ca.pem")],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    # A plaintext client of the TLS listener fails too.
    plaintext = subprocess.run([PAYNODE, "topics", "list", "--bootstrap-servers", tls_broker.bootstrap],
                               capture_output=True, text=True, timeout=120)
    assert plaintext.returncode != 0


def test_admin_client_certificate_for_a_mutual_tls_broker(data_dir, certs):
    node = Broker(data_dir, extra_args=tls_args(certs, "--tls-client-ca-file", certs["ca"])).start()
    try:
        base = ["topics", "list", "--bootstrap-servers", node.bootstrap, "--kafka-security-protocol", "SSL", "--tls-ca-file", certs["ca"]]
        without = subprocess.run([PAYNODE, *base], capture_output=True, text=True, timeout=120)
        assert without.returncode != 0
        paynode(*base, "--tls-client-cert-file", certs["client"], "--tls-client-key-file", certs["client-key"])
        half = subprocess.run([PAYNODE, *base, "--tls-client-cert-file", certs["client"]], capture_output=True, text=True, timeout=60)
        assert half.returncode != 0 and "--tls-client-key-file" in half.stderr
    finally:
        node.stop()


def test_tls_flags_without_a_tls_listener_are_refused_but_shared_environment_is_not(data_dir, certs, monkeypatch):
    flags = subprocess.run([PAYNODE, "broker", "--data-dir", data_dir, "--kafka-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                            "--tls-cert-file", certs["server"], "--tls-key-file", certs["server-key"]],
                           capture_output=True, text=True, timeout=60)
    assert flags.returncode != 0 and "no listener uses TLS" in flags.stderr
    # The child inherits these, as a node of a deployment whose other nodes serve TLS.
    monkeypatch.setenv("PAYNODE_TLS_CERT_FILE", certs["server"])
    monkeypatch.setenv("PAYNODE_TLS_KEY_FILE", certs["server-key"])
    node = Broker(data_dir).start()
    try:
        assert subprocess.run(["kcat", "-b", node.bootstrap, "-L", "-m", "10"], capture_output=True, timeout=60).returncode == 0
    finally:
        node.stop()


def test_dev_without_tls_still_runs_the_demo(tmp_path):
    """`paynode dev --no-tls`: the plaintext pipeline as before TLS, through the same demo client."""
    result = subprocess.run([PAYNODE, "dev", "--no-tls", "--data-dir", str(tmp_path / "dev"), "--demo-orders", "150",
                             "--kafka-listen", f"127.0.0.1:{free_port()}", "--http-listen", f"127.0.0.1:{free_port()}",
                             "--executor-http-listen", f"127.0.0.1:{free_port()}", "--ledger-http-listen", f"127.0.0.1:{free_port()}"],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "demo: 150 orders" in result.stdout
    assert "verify: OK" in result.stdout and "refunds: 5 successful orders refunded by half" in result.stdout, result.stdout
    assert not os.path.exists(tmp_path / "dev" / "certs")


def test_a_handshake_must_finish_in_time_and_a_finished_one_is_not_timed(data_dir, certs):
    node = Broker(data_dir, extra_args=tls_args(certs, "--request-read-timeout-ms", "1000")).start()
    try:
        silent = socket.create_connection(("127.0.0.1", node.kafka_port), timeout=15)
        started = time.time()
        assert silent.recv(1) == b"", "a client that never starts its handshake is closed"
        assert time.time() - started < 10
        silent.close()

        context = ssl.create_default_context(cafile=certs["ca"])
        with socket.create_connection(("127.0.0.1", node.kafka_port), timeout=15) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                time.sleep(2.5)  # past the handshake deadline: it must have been cancelled
                body = struct.pack(">hhih", 18, 0, 7, 4) + b"test"
                tls.sendall(struct.pack(">i", len(body)) + body)
                size = struct.unpack(">i", tls.recv(4))[0]
                assert size > 0
                correlation = struct.unpack(">i", tls.recv(4))[0]
                assert correlation == 7, "an ApiVersions answer over TLS after the deadline passed"
    finally:
        node.stop()
