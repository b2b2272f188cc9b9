"""Hostile Kafka requests against real nodes, sent as raw frames: record batches that are framed and
checksummed correctly but whose records are not (garbage records, an offsetDelta that is not the
record's index, a codec the broker cannot read) are refused at produce with a record-level error
and never stored; a commit of an offset outside the log is refused (it used to be stored and crash
every later /metrics scrape); a Fetch or DescribeGroups naming the same thing many times gets one
answer for it. After all of it the node still serves honest clients and honest payments finish."""
import socket
import struct
import time
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import Broker, paynode
from test_payment_service import Api, psp_result, varint, wait_for
from test_pipeline_e2e import Executor

CORRUPT_MESSAGE, OFFSET_OUT_OF_RANGE, UNSUPPORTED_COMPRESSION_TYPE, INVALID_RECORD = 2, 1, 76, 87


def crc32c(data):
    table = crc32c.table
    crc = 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _crc32c_table():
    table = []
    for index in range(256):
        crc = index
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


crc32c.table = _crc32c_table()


def zigzag(value):
    """Kafka's signed varint: the zig-zag mapping, then the same base-128 varint as protobuf's."""
    return varint((value << 1) ^ (value >> 63))


def record(offset_delta, value, key=b"k"):
    body = b"\x00" + zigzag(0) + zigzag(offset_delta) + zigzag(len(key)) + key + zigzag(len(value)) + value + zigzag(0)
    return zigzag(len(body)) + body


def batch(records_bytes, count, last_offset_delta=None, attributes=0):
    """A v2 record batch with a correct length and CRC around whatever `records_bytes` holds."""
    last = count - 1 if last_offset_delta is None else last_offset_delta
    now = int(time.time() * 1000)
    after_crc = struct.pack(">hiqqqhii", attributes, last, now, now, -1, -1, -1, count) + records_bytes
    after_length = struct.pack(">ib", 0, 2) + struct.pack(">I", crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(after_length)) + after_length


def string(value):
    data = value.encode()
    return struct.pack(">h", len(data)) + data


class Connection:
    """One Kafka connection speaking raw frames (non-flexible versions only)."""

    def __init__(self, port):
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.correlation = 0

    def call(self, api_key, version, body):
        self.correlation += 1
        payload = struct.pack(">hhi", api_key, version, self.correlation) + string("hostile") + body
        self.socket.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", self.read(4))[0]
        response = self.read(size)
        assert struct.unpack(">i", response[:4])[0] == self.correlation
        return Reader(response[4:])

    def read(self, count):
        data = b""
        while len(data) < count:
            chunk = self.socket.recv(count - len(data))
            assert chunk, "the node closed the connection"
            data += chunk
        return data

    def close(self):
        self.socket.close()


class Reader:
    def __init__(self, data):
        self.data, self.position = data, 0

    def take(self, fmt):
        values = struct.unpack_from(fmt, self.data, self.position)
        self.position += struct.calcsize(fmt)
        return values if len(values) > 1 else values[0]

    def string(self):
        length = self.take(">h")
        if length < 0:
            return None
        value = self.data[self.position:self.position + length].decode()
        self.position += length
        return value

    def skip_bytes(self):
        length = self.take(">i")
        self.position += max(0, length)


def produce(connection, topic, partition, records):
    """Produce v8; returns (error code, [(batch index, message)], error message) of the partition."""
    body = struct.pack(">hhi", -1, -1, 10_000) + struct.pack(">i", 1) + string(topic) + struct.pack(">i", 1) + \
        struct.pack(">ii", partition, len(records)) + records
    reader = connection.call(0, 8, body)
    assert reader.take(">i") == 1
    assert reader.string() == topic
    assert reader.take(">i") == 1
    _, error, _, _, _ = reader.take(">ihqqq")
    record_errors = [(reader.take(">i"), reader.string()) for _ in range(reader.take(">i"))]
    return error, record_errors, reader.string()


def commit(connection, group, topic, partition, offset):
    """OffsetCommit v2 outside any generation (how simple consumers commit); the partition's code."""
    body = string(group) + struct.pack(">i", -1) + string("") + struct.pack(">q", -1) + struct.pack(">i", 1) + \
        string(topic) + struct.pack(">i", 1) + struct.pack(">iq", partition, offset) + string("")
    reader = connection.call(8, 2, body)
    assert reader.take(">i") == 1 and reader.string() == topic and reader.take(">i") == 1
    return reader.take(">ih")[1]


def end_offset(bootstrap, topic, partition=0):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe"})
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
    finally:
        consumer.close()


def test_malformed_batches_are_refused_with_record_errors_and_never_stored(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("hostile", num_partitions=1, replication_factor=1)])["hostile"].result(timeout=30)
    connection = Connection(broker.kafka_port)

    garbage = batch(b"\xfe" * 40, count=3)
    error, _, message = produce(connection, "hostile", 0, garbage)
    assert error in (CORRUPT_MESSAGE, INVALID_RECORD) and "record" in message, (error, message)

    wrong_delta = batch(record(0, b"first") + record(5, b"second"), count=2)
    error, record_errors, message = produce(connection, "hostile", 0, wrong_delta)
    assert error == INVALID_RECORD, (error, message)
    assert [index for index, _ in record_errors] == [1], record_errors
    assert "offset" in record_errors[0][1].lower(), record_errors

    wrong_last_delta = batch(record(0, b"only"), count=1, last_offset_delta=3)
    assert produce(connection, "hostile", 0, wrong_last_delta)[0] in (CORRUPT_MESSAGE, INVALID_RECORD)

    trailing = batch(record(0, b"one") + b"\x00\x01\x02", count=1)
    assert produce(connection, "hostile", 0, trailing)[0] in (CORRUPT_MESSAGE, INVALID_RECORD)

    for codec in (2, 3, 4):  # snappy, lz4, zstd
        error, _, message = produce(connection, "hostile", 0, batch(record(0, b"x"), count=1, attributes=codec))
        assert error == UNSUPPORTED_COMPRESSION_TYPE, (codec, error, message)

    # A well-formed batch on the same connection is stored at offset 0: nothing before it was.
    error, record_errors, _ = produce(connection, "hostile", 0, batch(record(0, b"a") + record(1, b"b"), count=2))
    assert (error, record_errors) == (0, [])
    connection.close()

    producer = Producer({"bootstrap.servers": broker.bootstrap})
    producer.produce("hostile", value=b"honest", partition=0)
    assert producer.flush(30) == 0
    assert end_offset(broker.bootstrap, "hostile") == 3
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "reader", "enable.auto.commit": False})
    consumer.assign([TopicPartition("hostile", 0, 0)])
    values = []
    deadline = time.time() + 20
    while len(values) < 3 and time.time() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            values.append(message.value())
    consumer.close()
    assert values == [b"a", b"b", b"honest"]
    broker.stop()
    paynode("store", "verify", "--data-dir", broker.data_dir)


def test_commits_outside_the_log_are_refused_and_metrics_keep_answering(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("commits", num_partitions=1, replication_factor=1)])["commits"].result(timeout=30)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for index in range(5):
        producer.produce("commits", value=b"%d" % index, partition=0)
    assert producer.flush(30) == 0
    connection = Connection(broker.kafka_port)
    for offset in (-(1 << 63), -2, 6, (1 << 63) - 1):
        assert commit(connection, "intruder", "commits", 0, offset) == OFFSET_OUT_OF_RANGE, offset
    for offset in (-1, 0, 5):  # -1 is "no position", 5 is the end of the log
        assert commit(connection, "honest", "commits", 0, offset) == 0, offset
    connection.close()
    for _ in range(2):  # the scrape that used to trap, twice so a crash on the first shows
        with urllib.request.urlopen(f"http://127.0.0.1:{broker.http_port}/metrics", timeout=10) as response:
            assert response.status == 200
            text = response.read().decode()
    assert 'group="intruder"' not in text
    described = paynode("groups", "describe", "honest", "--bootstrap-servers", broker.bootstrap)
    assert "commits" in described, described
    broker.stop()
    stored = paynode("store", "groups", "--data-dir", broker.data_dir)
    assert "intruder" not in stored, stored


def test_repeated_names_get_one_answer_each(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("repeats", num_partitions=1, replication_factor=1)])["repeats"].result(timeout=30)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    producer.produce("repeats", value=b"x" * 1000, partition=0)
    assert producer.flush(30) == 0
    connection = Connection(broker.kafka_port)

    repeats = 5_000  # under --max-partitions-per-request
    partitions = struct.pack(">iqi", 0, 0, 1 << 20) * repeats
    fetch = struct.pack(">iiiib", -1, 0, 1, 1 << 30, 0) + struct.pack(">i", 1) + string("repeats") + \
        struct.pack(">i", repeats) + partitions
    reader = connection.call(1, 4, fetch)
    reader.take(">i")  # throttle
    assert reader.take(">i") == 1 and reader.string() == "repeats"
    assert reader.take(">i") == 1, "one answer for a partition named 5,000 times"

    groups = struct.pack(">i", repeats) + string("some-group") * repeats
    reader = connection.call(15, 0, groups)
    assert reader.take(">i") == 1
    connection.close()
    producer.produce("repeats", value=b"still serving", partition=0)
    assert producer.flush(30) == 0


def test_service_refuses_poison_results_and_payments_still_finish(data_dir):
    service = Broker(data_dir + "/service", node="service").start()
    executor = Executor(data_dir + "-executor", service.bootstrap).start()
    try:
        api = Api(service.http_port)
        connection = Connection(service.kafka_port)
        for partition in range(3):
            error, _, message = produce(connection, "psp-result-updates", partition, batch(b"\xfe" * 64, count=2))
            assert error in (CORRUPT_MESSAGE, INVALID_RECORD), (error, message)
            error, _, _ = produce(connection, "psp-result-updates", partition,
                                  batch(record(0, psp_result("po_x", "SUCCESSFUL")), count=1, attributes=2))
            assert error == UNSUPPORTED_COMPRESSION_TYPE
        connection.close()
        orders = []
        for index in range(9):
            status, _, body = api.create(f"after-poison-{index}")
            assert status == 201, body
            orders.append(body["paymentOrderId"])

        def all_terminal():
            return all(api.call("GET", f"/v1/payment-orders/{order}")[2]["status"] == "SUCCESSFUL" for order in orders)
        wait_for(all_terminal, 60, "orders created after the poison attempts to succeed")
    finally:
        executor.stop()
        service.stop()
    paynode("store", "verify", "--data-dir", service.data_dir)
