"""Child process for test_consumer_groups: a subscribing confluent-kafka consumer that processes
messages, commits synchronously after each batch, and logs every event (one line each, flushed):
ASSIGN p,p / REVOKE p,p / MSG partition offset value / COMMIT partition next-offset / COMMITFAIL ... .
SIGTERM makes it close cleanly (LeaveGroup)."""
import signal
import sys

from confluent_kafka import Consumer, KafkaException

bootstrap, topic, group, log_path = sys.argv[1:5]
log = open(log_path, "a", buffering=1)
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)


def on_assign(consumer, partitions):
    log.write("ASSIGN " + ",".join(str(p.partition) for p in partitions) + "\n")


def on_revoke(consumer, partitions):
    log.write("REVOKE " + ",".join(str(p.partition) for p in partitions) + "\n")


consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                     "auto.offset.reset": "earliest", "session.timeout.ms": 6000, "heartbeat.interval.ms": 300,
                     "partition.assignment.strategy": "range"})
consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
log.write("STARTED\n")
while running:
    messages = [m for m in consumer.consume(num_messages=50, timeout=0.2) if m.error() is None]
    if not messages:
        continue
    latest = {}
    for message in messages:
        log.write(f"MSG {message.partition()} {message.offset()} {message.value().decode()}\n")
        latest[message.partition()] = message.offset() + 1
    try:
        from confluent_kafka import TopicPartition
        consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in latest.items()], asynchronous=False)
        for partition, offset in latest.items():
            log.write(f"COMMIT {partition} {offset}\n")
    except KafkaException as error:
        for partition, offset in latest.items():
            log.write(f"COMMITFAIL {partition} {offset} {error}\n")
consumer.close()
log.write("CLOSED\n")
