"""The broker is SIGKILLed (twice) while a librdkafka idempotent producer is sending; after each
restart the producer carries on. Every message the client saw acknowledged is in the log exactly
once, and the log holds no duplicates at all."""
import os
import subprocess
import sys
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import Broker

HERE = os.path.dirname(os.path.abspath(__file__))
COUNT = 30_000


def acked(path):
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [line.strip() for line in handle if line.strip()]


def test_sigkill_during_idempotent_produce(data_dir):
    broker = Broker(data_dir).start()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("crash", num_partitions=3, replication_factor=1)])["crash"].result(timeout=30)
    acks_path = data_dir + "-acks.txt"
    producer = subprocess.Popen([sys.executable, os.path.join(HERE, "idempotent_producer.py"), broker.bootstrap, "crash",
                                 str(COUNT), acks_path], stderr=subprocess.PIPE, text=True)
    try:
        for kill in range(2):
            # Kill once the producer is well under way.
            deadline = time.time() + 60
            while len(acked(acks_path)) < (kill + 1) * COUNT // 4 and time.time() < deadline and producer.poll() is None:
                time.sleep(0.02)
            broker.kill()
            time.sleep(0.5)
            broker.start()
        _, errors = producer.communicate(timeout=180)
        assert producer.returncode == 0, errors
    finally:
        if producer.poll() is None:
            producer.kill()

    acknowledged = acked(acks_path)
    assert len(set(acknowledged)) == COUNT

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "crash-check", "enable.auto.commit": False})
    consumer.assign([TopicPartition("crash", p, 0) for p in range(3)])
    values = []
    idle_since = time.time()
    while time.time() - idle_since < 3:
        batch = [m for m in consumer.consume(num_messages=2000, timeout=0.5) if m.error() is None]
        if batch:
            idle_since = time.time()
        values.extend(m.value().decode() for m in batch)
    consumer.close()
    broker.stop()

    duplicates = len(values) - len(set(values))
    assert duplicates == 0, f"{duplicates} duplicate messages in the log"
    missing = set(acknowledged) - set(values)
    assert not missing, f"{len(missing)} acknowledged messages missing, e.g. {sorted(missing)[:5]}"
    assert len(values) == COUNT
