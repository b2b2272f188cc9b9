"""HTTP/2 on the service's HTTP listener, with real clients: curl with prior knowledge (h2c) on
the plaintext listener and by ALPN (h2) over TLS with the development CA, HTTP/1.1 clients on the
same listeners, the body limit's 413 on HTTP/2, and hostile HTTP/2 input that must end only its
own connection."""
import json
import os
import socket
import struct
import subprocess
import uuid

import pytest

from conftest import PAYNODE, Broker, paynode

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
ORDER = {"merchantId": "m_h2", "amount": 1200, "currency": "EUR", "paymentMethod": "tok_visa", "psp": "stripe"}


def curl(*args, body=None):
    """curl's answer: (HTTP version, status, body). `body`: bytes posted from a file."""
    command = ["curl", "-sS", "-o", "-", "-w", "\n%{http_version} %{http_code}", *args]
    if body is not None:
        command += ["--data-binary", "@-"]
    result = subprocess.run(command, input=body, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr.decode()
    text, _, trailer = result.stdout.decode().rpartition("\n")
    version, status = trailer.split(" ")
    return version, int(status), text


def create_order(base, *flags, key=None):
    return curl(*flags, "-X", "POST", "-H", "Content-Type: application/json",
                "-H", f"Idempotency-Key: {key or uuid.uuid4().hex}", f"{base}/v1/payment-orders",
                body=json.dumps(ORDER).encode())


def read_until_closed(port, data, timeout=10):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(data)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        return received


def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


@pytest.fixture
def service(data_dir):
    node = Broker(data_dir, node="service").start()
    yield node
    node.stop()


def test_h2c_with_prior_knowledge_and_http1_on_the_plaintext_service(service):
    base = f"http://127.0.0.1:{service.http_port}"
    version, status, text = create_order(base, "--http2-prior-knowledge")
    assert (version, status) == ("2", 201), text
    order = json.loads(text)
    version, status, text = curl("--http2-prior-knowledge", f"{base}/v1/payment-orders/{order['paymentOrderId']}")
    assert (version, status) == ("2", 200)
    assert json.loads(text)["paymentOrderId"] == order["paymentOrderId"]
    # The same idempotency key on HTTP/2 is a replay, as on HTTP/1.1.
    key = uuid.uuid4().hex
    first = create_order(base, "--http2-prior-knowledge", key=key)
    replay = create_order(base, "--http1.1", key=key)
    assert first[:2] == ("2", 201) and replay[:2] == ("1.1", 201)
    assert json.loads(first[2]) == json.loads(replay[2])
    version, status, text = curl("--http1.1", f"{base}/healthz")
    assert (version, status) == ("1.1", 200) and json.loads(text) == {"status": "ok"}


def test_h2_by_alpn_over_tls_and_http1_on_the_same_listener(data_dir, tmp_path):
    directory = str(tmp_path / "certs")
    paynode("certs", "init", "--dir", directory)
    ca = os.path.join(directory, "ca.pem")
    node = Broker(data_dir, node="service", extra_args=["--tls-cert-file", os.path.join(directory, "server.pem"),
                                                        "--tls-key-file", os.path.join(directory, "server-key.pem"),
                                                        "--http-tls"]).start()
    try:
        base = f"https://127.0.0.1:{node.http_port}"
        version, status, text = create_order(base, "--http2", "--cacert", ca)
        assert (version, status) == ("2", 201), text
        order_id = json.loads(text)["paymentOrderId"]
        version, status, text = curl("--http2", "--cacert", ca, f"{base}/v1/payment-orders/{order_id}")
        assert (version, status) == ("2", 200) and json.loads(text)["paymentOrderId"] == order_id
        version, status, text = curl("--http1.1", "--cacert", ca, f"{base}/healthz")
        assert (version, status) == ("1.1", 200) and json.loads(text) == {"status": "ok"}
        assert node.process.poll() is None
    finally:
        node.stop()


def test_over_limit_bodies_get_413_on_http2(service):
    base = f"http://127.0.0.1:{service.http_port}"
    headers = ["-X", "POST", "-H", "Content-Type: application/json", "-H", "Idempotency-Key: big-h2"]
    # Over the API's 64 KiB: the route's 413; over the node's 256 KiB: the server's own.
    for size in (100 << 10, 300 << 10):
        version, status, text = curl("--http2-prior-knowledge", *headers, f"{base}/v1/payment-orders", body=b"x" * size)
        assert (version, status) == ("2", 413)
        assert json.loads(text)["error"]["code"] == "body_too_large"
    assert create_order(base, "--http2-prior-knowledge")[:2] == ("2", 201)


@pytest.mark.parametrize("garbage", [
    b"\x07garbage\x00\x01" * 64,                                  # not frames at all
    frame(4, 0, 0, b"") + frame(1, 5, 1, b"\xff" * 40),           # SETTINGS, then HEADERS that are not HPACK
    frame(4, 0, 0, b"") + frame(9, 4, 1, b"\x00" * 8),            # CONTINUATION without HEADERS
    frame(4, 0, 0, b"") + b"\xff\xff\xff\x00\x00\x00\x00\x00\x01",  # a 16 MiB frame announced
    frame(4, 0, 0, b"") + frame(8, 0, 0, struct.pack(">I", 0x7fffffff)),  # a flow-control window over 2^31-1
], ids=["bytes", "bad-hpack", "stray-continuation", "huge-frame", "window-overflow"])
def test_garbage_after_the_preface_ends_only_that_connection(service, garbage):
    received = read_until_closed(service.http_port, PREFACE + garbage)
    assert b"HTTP/1.1" not in received
    assert service.process.poll() is None
    base = f"http://127.0.0.1:{service.http_port}"
    assert curl("--http2-prior-knowledge", f"{base}/healthz")[:2] == ("2", 200)
    assert curl("--http1.1", f"{base}/healthz")[:2] == ("1.1", 200)


def test_http2_off_serves_http1_only(data_dir):
    node = Broker(data_dir, node="service", extra_args=["--http2", "off"]).start()
    try:
        base = f"http://127.0.0.1:{node.http_port}"
        prior = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", f"{base}/healthz"], capture_output=True, timeout=30)
        assert prior.returncode != 0 or b'"ok"' not in prior.stdout
        assert curl("--http1.1", f"{base}/healthz")[:2] == ("1.1", 200)
    finally:
        node.stop()


def server_settings(port):
    """The SETTINGS the server sends first on an h2c connection, as {identifier: value}."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(PREFACE + frame(4, 0, 0, b""))
        received = b""
        while len(received) < 9 or len(received) < 9 + int.from_bytes(received[:3], "big"):
            chunk = connection.recv(65536)
            assert chunk, "closed before the server's SETTINGS"
            received += chunk
    length, kind = int.from_bytes(received[:3], "big"), received[3]
    assert kind == 4, received
    payload = received[9:9 + length]
    return {struct.unpack(">H", payload[i:i + 2])[0]: struct.unpack(">I", payload[i + 2:i + 6])[0]
            for i in range(0, length, 6)}


def test_the_stream_and_header_limits_are_advertised_and_enforced(data_dir):
    node = Broker(data_dir, node="service", extra_args=["--http2-max-streams", "7",
                                                        "--http2-max-header-list-bytes", "4096"]).start()
    try:
        settings = server_settings(node.http_port)
        assert settings.get(3) == 7, settings     # SETTINGS_MAX_CONCURRENT_STREAMS
        assert settings.get(6) == 4096, settings  # SETTINGS_MAX_HEADER_LIST_SIZE
        base = f"http://127.0.0.1:{node.http_port}"
        # The limit applies once the client has acknowledged the SETTINGS (before that, NIOHTTP2's
        # 16 KiB): a second request on the connection, after the first answer, meets it.
        url = f"{base}/healthz"
        oversized = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code} ", url,
                                    "--next", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}",
                                    "-H", "X-Big: " + "y" * 8000, url], capture_output=True, text=True, timeout=30)
        first, _, second = oversized.stdout.partition(" ")
        assert first == "200" and second != "200", oversized
        assert node.process.poll() is None
        assert curl("--http2-prior-knowledge", f"{base}/healthz")[:2] == ("2", 200)
    finally:
        node.stop()


def test_bad_http2_flags_are_refused(tmp_path):
    for flags in (["--http2", "maybe"], ["--http2-max-streams", "0"], ["--http2-max-header-list-bytes", "10"]):
        process = subprocess.run([PAYNODE, "service", "--data-dir", str(tmp_path / "data"), *flags],
                                 capture_output=True, text=True, timeout=30, cwd=tmp_path)
        assert process.returncode != 0
        assert flags[0] in process.stderr, process.stderr


class FrameReader:
    """Frames from the server, as (type, flags, stream, payload), read across calls."""

    def __init__(self, connection, timeout=10):
        connection.settimeout(timeout)
        self.connection, self.buffered = connection, b""

    def until(self, condition):
        frames = []
        while True:
            while len(self.buffered) >= 9 and len(self.buffered) >= 9 + int.from_bytes(self.buffered[:3], "big"):
                length = int.from_bytes(self.buffered[:3], "big")
                item = (self.buffered[3], self.buffered[4], struct.unpack(">I", self.buffered[5:9])[0] & 0x7fffffff,
                        self.buffered[9:9 + length])
                self.buffered = self.buffered[9 + length:]
                frames.append(item)
                if condition(item):
                    return frames
            chunk = self.connection.recv(65536)
            assert chunk, f"closed; frames so far {frames}"
            self.buffered += chunk


def test_a_client_over_the_stream_limit_loses_its_connection_not_the_node(data_dir):
    """Clients keep their streams within SETTINGS_MAX_CONCURRENT_STREAMS (curl and NIOHTTP2 queue
    the rest); one that does not commits a protocol error, which NIOHTTP2 answers with GOAWAY."""
    node = Broker(data_dir, node="service", extra_args=["--http2-max-streams", "2"]).start()
    try:
        # POST :path / :scheme http :authority test, END_HEADERS without END_STREAM: each stream
        # stays open, waiting for a body.
        headers = b"\x83\x84\x86\x01\x04test"
        with socket.create_connection(("127.0.0.1", node.http_port), timeout=10) as connection:
            frames = FrameReader(connection)
            connection.sendall(PREFACE + frame(4, 0, 0, b""))
            frames.until(lambda f: f[0] == 4 and not f[1] & 1)  # the server's SETTINGS
            connection.sendall(frame(4, 1, 0, b""))              # acknowledged: they apply
            frames.until(lambda f: f[0] == 4 and f[1] & 1)       # ours acknowledged
            connection.sendall(b"".join(frame(1, 4, stream, headers) for stream in (1, 3, 5)))
            goaway = frames.until(lambda f: f[0] == 7)[-1]
            assert struct.unpack(">I", goaway[3][4:8])[0] == 1  # PROTOCOL_ERROR
        assert node.process.poll() is None
        assert curl("--http2-prior-knowledge", f"http://127.0.0.1:{node.http_port}/healthz")[:2] == ("2", 200)
    finally:
        node.stop()
