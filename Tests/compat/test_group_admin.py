"""DeleteGroups, OffsetDelete and AlterConfigs (issue 21) with unmodified clients against
`paynode broker`: confluent-kafka's AdminClient (librdkafka) and kafka-python's admin client."""
import time

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from kafka.admin import KafkaAdminClient
from kafka.structs import TopicPartition as KTopicPartition


def create(admin, name, partitions=1):
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(timeout=30)


def produce(broker, topic, count):
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for index in range(count):
        producer.produce(topic, value=f"v{index}".encode(), partition=0)
    assert producer.flush(30) == 0


def consume_and_commit(broker, topic, group, count, close=True):
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([topic])
    seen = 0
    deadline = time.time() + 30
    while seen < count and time.time() < deadline:
        message = consumer.poll(1.0)
        if message is not None and message.error() is None:
            seen += 1
    assert seen == count
    consumer.commit(asynchronous=False)
    if close:
        consumer.close()
    return consumer


def committed(broker, group, topic):
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        return consumer.committed([TopicPartition(topic, 0)], timeout=30)[0].offset
    finally:
        consumer.close()


def test_confluent_admin_deletes_an_empty_group_and_refuses_a_live_one(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    create(admin, "grp-orders")
    produce(broker, "grp-orders", 3)
    consume_and_commit(broker, "grp-orders", "finished-app", 3)
    live = consume_and_commit(broker, "grp-orders", "live-app", 3, close=False)
    try:
        futures = admin.delete_consumer_groups(["finished-app", "live-app"], request_timeout=30)
        futures["finished-app"].result(timeout=30)
        with pytest.raises(KafkaException) as raised:
            futures["live-app"].result(timeout=30)
        assert "NON_EMPTY_GROUP" in str(raised.value)
    finally:
        live.close()
    # The deleted group's offset is gone: a new consumer of it starts from scratch.
    assert committed(broker, "finished-app", "grp-orders") < 0
    assert committed(broker, "live-app", "grp-orders") == 3


def test_kafka_python_deletes_offsets_and_groups(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    create(admin, "grp-kp")
    produce(broker, "grp-kp", 2)
    consume_and_commit(broker, "grp-kp", "kp-app", 2)
    client = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=30000)
    try:
        result = client.delete_group_offsets("kp-app", [KTopicPartition("grp-kp", 0)])
        assert all(error is None or getattr(error, "errno", 0) == 0 for error in result.values()), result
        assert committed(broker, "kp-app", "grp-kp") < 0
        # kafka-python answers (group id, its error's name) per group.
        deleted = {group: str(error) for group, error in dict(client.delete_groups(["kp-app", "never-existed"])).items()}
        assert deleted["kp-app"] in ("OK", "NoError"), deleted
        assert "GroupIdNotFound" in deleted["never-existed"], deleted
    finally:
        client.close()


def test_confluent_legacy_alter_configs_replaces_the_set(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("grp-configs", num_partitions=1, replication_factor=1,
                                  config={"retention.ms": "3600000"})])["grp-configs"].result(timeout=30)
    resource = ConfigResource(ConfigResource.Type.TOPIC, "grp-configs", set_config={"retention.bytes": "1048576"})
    admin.alter_configs([resource])[resource].result(timeout=30)
    described = list(admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "grp-configs")]).values())[0].result(timeout=30)
    assert described["retention.bytes"].value == "1048576"
    # Not named, so back to its default.
    assert described["retention.ms"].value == "-1"
    refused = ConfigResource(ConfigResource.Type.TOPIC, "grp-configs", set_config={"retention.ms": "not-a-number"})
    with pytest.raises(KafkaException) as raised:
        admin.alter_configs([refused])[refused].result(timeout=30)
    assert "INVALID_CONFIG" in str(raised.value) or "integer" in str(raised.value)
