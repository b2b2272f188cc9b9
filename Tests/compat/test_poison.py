"""Poison already in the logs (what an older release, a flipped byte or a bug could leave; placed
with `paynode store append-raw`, since the broker now refuses it at produce) is isolated by both
consumers: the service dead-letters undecodable batches of psp-result-updates with their reason
and source offsets in the transaction that moves its offset past them, the executor dead-letters
undecodable payment orders to its own payment-orders.dlq, and every honest order created
afterwards becomes terminal."""
import hashlib
import os
import re
import subprocess

from confluent_kafka import Consumer, TopicPartition

from conftest import PAYNODE, Broker, paynode
from test_hostile_kafka import batch, record
from test_payment_service import Api, wait_for
from test_pipeline_e2e import Executor

BIG_VALUE = b"\xfa" * (2 << 20)  # not an event: dead-lettered, truncated to the 64 KiB bound


def append_raw(data_dir, topic, partition, raw):
    path = os.path.join(os.path.dirname(data_dir), f"poison-{topic}-{partition}.bin")
    with open(path, "wb") as handle:
        handle.write(raw)
    out = paynode("store", "append-raw", "--data-dir", data_dir, "--topic", topic, "--partition", str(partition), path)
    assert "appended" in out, out


def dead_letters(bootstrap, topic):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "dlq-reader", "enable.auto.commit": False})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    letters, empty_polls = [], 0
    while empty_polls < 6:
        messages = [m for m in consumer.consume(num_messages=100, timeout=0.5) if m.error() is None]
        empty_polls = 0 if messages else empty_polls + 1
        letters += [(dict((k, v) for k, v in (m.headers() or [])), m.value()) for m in messages]
    consumer.close()
    return letters


def test_poison_in_both_logs_is_dead_lettered_and_payments_go_on(data_dir):
    service_dir = data_dir + "/service"
    service = Broker(service_dir, node="service").start()
    executor = Executor(data_dir + "-executor", service.bootstrap).start()
    api = Api(service.http_port)
    try:
        status, _, first = api.create("before-poison")
        assert status == 201, first
        wait_for(lambda: api.call("GET", f"/v1/payment-orders/{first['paymentOrderId']}")[2]["status"] == "SUCCESSFUL",
                 30, "the first order")
    finally:
        executor.stop()
        service.stop()

    append_raw(service_dir, "psp-result-updates", 0, batch(b"\xfe" * 64, count=3))  # garbage records, valid CRC
    append_raw(service_dir, "psp-result-updates", 1, batch(record(0, b"a") + record(5, b"b"), count=2))  # offsetDelta != index
    append_raw(service_dir, "psp-result-updates", 2, batch(record(0, b"x"), count=1, attributes=2))  # snappy
    append_raw(service_dir, "psp-result-updates", 0, batch(record(0, BIG_VALUE), count=1))  # 2 MiB, not an event
    append_raw(service_dir, "payment-orders", 1, batch(b"\xfe" * 64, count=2))
    verify = subprocess.run([PAYNODE, "store", "verify", "--data-dir", service_dir], capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.count("UNDECODABLE") >= 4, verify.stdout

    service.start()
    executor.start()
    try:
        orders = []
        for index in range(12):
            status, _, body = api.create(f"after-poison-{index}")
            assert status == 201, body
            orders.append(body["paymentOrderId"])
        wait_for(lambda: all(api.call("GET", f"/v1/payment-orders/{order}")[2]["status"] == "SUCCESSFUL" for order in orders),
                 60, "every order created after the poison to succeed")
        letters = wait_for(lambda: (lambda found: found if len(found) >= 4 else None)(
            dead_letters(service.bootstrap, "psp-result-updates.dlq")), 30, "the service's dead letters for every poison batch")
        order_letters = wait_for(lambda: dead_letters(service.bootstrap, "payment-orders.dlq") or None,
                                 30, "the executor's dead letter for the poison order batch")
    finally:
        executor.stop()
        service.stop()

    def by_source(letters):
        sources = {}
        for headers, value in letters:
            assert headers.get("paynode-dlq-reason"), headers
            key = (headers.get("paynode-dlq-source-topic", b"").decode(), int(headers.get("paynode-dlq-source-partition", b"-1")))
            sources.setdefault(key, []).append((headers, value))
        return sources
    # Each DLQ has one writer: the service's holds only results, the executor's only orders.
    sources = by_source(letters)
    assert {topic for topic, _ in sources} == {"psp-result-updates"}, sorted(sources)
    for partition in range(3):
        assert ("psp-result-updates", partition) in sources, sorted(sources)
    assert set(by_source(order_letters)) == {("payment-orders", 1)}
    big = [(h, v) for h, v in sources[("psp-result-updates", 0)] if h.get("paynode-dlq-truncated")]
    assert big, "\n".join(repr((h, len(v))) for h, v in sources[("psp-result-updates", 0)])
    headers, value = big[0]
    assert len(value) <= 64 << 10
    assert int(headers["paynode-dlq-value-length"]) == len(BIG_VALUE)
    assert headers["paynode-dlq-value-sha256"].decode().lower() == hashlib.sha256(BIG_VALUE).hexdigest()

    # No committed offset passes the end of its log, and the stores check out.
    groups = paynode("store", "groups", "--data-dir", service_dir)
    for committed, high_watermark in re.findall(r"committed=(-?\d+)\s+high-watermark=(-?\d+)", groups):
        assert int(committed) <= int(high_watermark), groups
    assert "psp-result-updates" in groups
    verify = subprocess.run([PAYNODE, "store", "verify", "--data-dir", service_dir], capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # The status index and counts agree with every order the run created.
    orders_checked = re.search(r"checked (\d+) orders against (\d+) status index entries and the status counts: 0 problems", verify.stdout)
    assert orders_checked and int(orders_checked[1]) >= 12 and orders_checked[1] == orders_checked[2], verify.stdout
    audit = subprocess.run([PAYNODE, "audit", "verify", "--data-dir", service_dir], capture_output=True, text=True, timeout=120)
    assert audit.returncode == 0, audit.stdout + audit.stderr
