"""Child process for test_broker_crash: an idempotent librdkafka producer that writes one line
per acknowledged message to ACKS_FILE (flushed at once), and keeps going across broker restarts."""
import sys

from confluent_kafka import Producer

bootstrap, topic, count, acks_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
acks = open(acks_path, "a", buffering=1)
failures = []


def on_delivery(error, message):
    if error is None:
        acks.write(message.value().decode() + "\n")
    else:
        failures.append(str(error))


producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                     "linger.ms": 2, "batch.num.messages": 200, "message.timeout.ms": 120000,
                     "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 500})
for index in range(count):
    while True:
        try:
            producer.produce(topic, key=str(index % 13).encode(), value=f"m-{index}".encode(), on_delivery=on_delivery)
            break
        except BufferError:
            producer.poll(0.1)
    producer.poll(0)
remaining = producer.flush(120)
acks.close()
if remaining or failures:
    print(f"undelivered={remaining} failures={failures[:5]}", file=sys.stderr)
    sys.exit(1)
