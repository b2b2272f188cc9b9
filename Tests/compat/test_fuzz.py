"""Bounded fuzzing of a live broker: random frames, frames with random API keys and versions, and
byte-mutated valid requests. The broker must never crash or hang, must keep answering real
clients, and the log and group offsets must be unchanged."""
import random
import socket
import struct
import subprocess
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import Broker, paynode

SEED = 20261123
ROUNDS = 1200


def string(value):
    data = value.encode()
    return struct.pack(">h", len(data)) + data


def frame(api_key, version, body, correlation=7):
    payload = struct.pack(">hhi", api_key, version, correlation) + string("fuzzer") + body
    return struct.pack(">i", len(payload)) + payload


def base_frames(batch):
    produce = struct.pack(">hi", -1, 5000) + struct.pack(">i", 1) + string("no-such-topic") + struct.pack(">i", 1) + \
        struct.pack(">i", 0) + struct.pack(">i", len(batch)) + batch
    fetch = struct.pack(">iiiib", -1, 100, 1, 1 << 20, 0) + struct.pack(">i", 1) + string("fuzz-target") + \
        struct.pack(">i", 1) + struct.pack(">iqqi", 0, 0, -1, 1 << 20)
    metadata = struct.pack(">i", 1) + string("fuzz-target") + struct.pack(">b", 0)
    list_offsets = struct.pack(">ib", -1, 0) + struct.pack(">i", 1) + string("fuzz-target") + struct.pack(">i", 1) + \
        struct.pack(">iq", 0, -2)
    offset_fetch = string("fuzz-group") + struct.pack(">i", 1) + string("fuzz-target") + struct.pack(">i", 1) + struct.pack(">i", 0)
    return [
        frame(0, 3, struct.pack(">h", -1) + produce),
        frame(0, 8, struct.pack(">h", -1) + produce),
        frame(1, 4, fetch),
        frame(3, 4, metadata),
        frame(2, 2, list_offsets),
        frame(9, 3, offset_fetch),
        frame(18, 2, b""),
        frame(18, 3, b"\x00\x00"),
    ]


def snapshot(broker):
    """What the fuzzing must not change: topics, offsets and committed offsets."""
    broker.stop()
    state = paynode("store", "topics", "--data-dir", broker.data_dir) + paynode("store", "groups", "--data-dir", broker.data_dir)
    broker.start()
    return state


def send_and_read(port, data, rng):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.settimeout(0.2)
        try:
            connection.sendall(data)
            if rng.random() < 0.5:
                connection.shutdown(socket.SHUT_WR)
            connection.recv(65536)
        except (socket.timeout, ConnectionResetError, BrokenPipeError):
            pass


def test_fuzzed_frames_change_nothing(data_dir):
    broker = Broker(data_dir, extra_args=["--auto-create-topics", "false"]).start()
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("fuzz-target", num_partitions=1, replication_factor=1)])["fuzz-target"].result(timeout=30)
    for index in range(20):
        producer.produce("fuzz-target", key=b"k", value=f"seed {index}".encode())
    assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "fuzz-group", "enable.auto.commit": False})
    consumer.commit(offsets=[TopicPartition("fuzz-target", 0, 10)], asynchronous=False)
    consumer.close()

    # A real batch (valid CRC) from the log, as Fetch returns it: skip the response framing.
    batch = fetch_first_batch(broker.kafka_port)
    before = snapshot(broker)

    rng = random.Random(SEED)
    frames = base_frames(batch)
    deadline = time.time() + 90
    rounds = 0
    for round_number in range(ROUNDS):
        if time.time() > deadline:
            break
        rounds += 1
        choice = rng.random()
        if choice < 0.2:
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))
        elif choice < 0.4:
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 128)))
            data = frame(rng.choice([0, 1, 2, 3, 8, 9, 10, 11, 18, 19, 22, 57, 99, -1]), rng.randint(-2, 20), body)
        else:
            data = bytearray(rng.choice(frames))
            for _ in range(rng.randint(1, 4)):
                position = rng.randrange(len(data))
                data[position] = rng.getrandbits(8)
            if rng.random() < 0.2:
                data = data[: rng.randrange(len(data))]
            data = bytes(data)
        send_and_read(broker.kafka_port, data, rng)
        assert broker.process.poll() is None, f"broker died at round {round_number}; log: {broker.log()[-2000:]}"

    assert rounds >= 300, f"only {rounds} fuzz rounds ran"
    # Still serving real clients.
    out = subprocess.run(["kcat", "-b", broker.bootstrap, "-L"], capture_output=True, text=True, timeout=30)
    assert "fuzz-target" in out.stdout
    assert snapshot(broker) == before
    broker.stop()


def fetch_first_batch(port):
    request = struct.pack(">iiiib", -1, 100, 1, 1 << 20, 0) + struct.pack(">i", 1) + string("fuzz-target") + \
        struct.pack(">i", 1) + struct.pack(">iqqi", 0, 0, -1, 1 << 20)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(frame(1, 4, request))
        size = struct.unpack(">i", recv_exactly(connection, 4))[0]
        response = recv_exactly(connection, size)
    # correlation, throttle, topics count, topic name, partitions count, partition, error, hw, lso,
    # aborted count, records size, records
    offset = 4 + 4 + 4
    name_length = struct.unpack(">h", response[offset:offset + 2])[0]
    offset += 2 + name_length + 4 + 4 + 2 + 8 + 8  # v4 has no log start offset
    aborted = struct.unpack(">i", response[offset:offset + 4])[0]
    offset += 4 + max(aborted, 0) * 16
    records_size = struct.unpack(">i", response[offset:offset + 4])[0]
    records = response[offset + 4: offset + 4 + records_size]
    batch_length = struct.unpack(">i", records[8:12])[0]
    return records[: batch_length + 12]


def recv_exactly(connection, count):
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        assert chunk, "connection closed"
        data += chunk
    return data
