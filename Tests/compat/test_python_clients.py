"""confluent-kafka (current librdkafka) and kafka-python against paynode broker: each produces
10,000 keyed messages with acks=all and idempotence, consumes them back with assign() and
committed offsets, and gets identical content."""
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KTopicPartition

COUNT = 10_000


def messages(prefix):
    return [(f"{prefix}-key-{i % 97}".encode(), f"{prefix} value {i}".encode(), [("n", str(i).encode())], 1_700_000_000_000 + i)
            for i in range(COUNT)]


def create_topic(bootstrap, name, partitions=3):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    futures[name].result(timeout=30)


def test_confluent_kafka_round_trip(broker):
    create_topic(broker.bootstrap, "ck")
    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "acks": "all",
                         "linger.ms": 5, "partitioner": "murmur2_random"})
    delivered = {}

    def on_delivery(error, message):
        assert error is None, error
        delivered[(message.partition(), message.offset())] = (message.key(), message.value())

    sent = messages("ck")
    for key, value, headers, timestamp in sent:
        producer.produce("ck", key=key, value=value, headers=headers, timestamp=timestamp, on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(60) == 0
    assert len(delivered) == COUNT

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "ck-reader", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition("ck", p, 0) for p in range(3)])
    received = []
    deadline = time.time() + 60
    while len(received) < COUNT and time.time() < deadline:
        for message in consumer.consume(num_messages=1000, timeout=1):
            assert message.error() is None, message.error()
            received.append((message.key(), message.value(), message.headers(), message.timestamp()[1], message.partition(), message.offset()))
    assert len(received) == COUNT
    assert sorted((k, v, tuple(h), t) for k, v, h, t, _, _ in received) == sorted((k, v, tuple(h), t) for k, v, h, t in sent)
    # Same key, same partition, in order (murmur2 like the Java client).
    by_key = {}
    for key, value, _, _, partition, _ in received:
        by_key.setdefault(key, set()).add(partition)
    assert all(len(partitions) == 1 for partitions in by_key.values())

    # Commit half-way positions, then a new consumer resumes from them.
    positions = {}
    for _, _, _, _, partition, offset in received:
        positions[partition] = max(positions.get(partition, -1), offset)
    commits = [TopicPartition("ck", p, (o + 1) // 2, "resume here") for p, o in positions.items()]
    consumer.commit(offsets=commits, asynchronous=False)
    committed = consumer.committed([TopicPartition("ck", p) for p in range(3)], timeout=10)
    assert {c.partition: c.offset for c in committed} == {c.partition: c.offset for c in commits}
    assert all(c.metadata == "resume here" for c in committed)
    consumer.close()

    resumed = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "ck-reader", "enable.auto.commit": False})
    resumed.assign([TopicPartition("ck", c.partition, c.offset) for c in committed])
    again = 0
    deadline = time.time() + 60
    expected = sum(positions[p] + 1 - (positions[p] + 1) // 2 for p in positions)
    while again < expected and time.time() < deadline:
        again += len([m for m in resumed.consume(num_messages=1000, timeout=1) if m.error() is None])
    resumed.close()
    assert again == expected


def test_kafka_python_round_trip(broker):
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    sent = messages("kp")
    futures = [producer.send("kp", key=key, value=value, headers=headers, timestamp_ms=timestamp)
               for key, value, headers, timestamp in sent]
    producer.flush(60)
    metadata = [future.get(timeout=60) for future in futures]
    producer.close()
    assert len({(m.partition, m.offset) for m in metadata}) == COUNT

    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id="kp-reader", enable_auto_commit=False,
                             auto_offset_reset="earliest")
    partitions = [KTopicPartition("kp", p) for p in sorted(consumer.partitions_for_topic("kp"))]
    consumer.assign(partitions)
    received = []
    deadline = time.time() + 60
    while len(received) < COUNT and time.time() < deadline:
        for records in consumer.poll(timeout_ms=1000, max_records=2000).values():
            received.extend((r.key, r.value, [(k, v) for k, v in r.headers], r.timestamp) for r in records)
    assert len(received) == COUNT
    assert sorted((k, v, tuple(h), t) for k, v, h, t in received) == sorted((k, v, tuple(h), t) for k, v, h, t in sent)
    consumer.commit()
    positions = {tp.partition: consumer.position(tp) for tp in partitions}
    assert {tp.partition: consumer.committed(tp) for tp in partitions} == positions
    consumer.close()

    resumed = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id="kp-reader", enable_auto_commit=False)
    resumed.assign(partitions)
    assert resumed.poll(timeout_ms=1500) == {}
    assert {tp.partition: resumed.position(tp) for tp in partitions} == positions
    resumed.close()
