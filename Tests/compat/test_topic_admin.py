"""DeleteTopics, CreatePartitions and DeleteRecords (issue 21 item 2) with unmodified clients:
confluent-kafka's AdminClient (librdkafka) and kafka-python's admin client against `paynode
broker`, and the payment topics of `paynode service` refused whatever the client's rights."""
import time

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic
from kafka.admin import KafkaAdminClient, NewPartitions as KNewPartitions
from kafka.errors import KafkaError as KError
from kafka.structs import TopicPartition as KTopicPartition

from conftest import Broker, paynode


def create(admin, name, partitions=1):
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(timeout=30)


def produce(broker, topic, count, partition=0):
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for index in range(count):
        producer.produce(topic, value=f"v{index}".encode(), partition=partition)
    assert producer.flush(30) == 0


def watermarks(broker, topic, partition=0):
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "watermarks"})
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
    finally:
        consumer.close()


def read_values(broker, topic, partition=0):
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": f"reader-{time.time()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, partition)])
    values = []
    deadline = time.time() + 15
    low, high = watermarks(broker, topic, partition)
    while len(values) < high - low and time.time() < deadline:
        message = consumer.poll(1.0)
        if message is not None and message.error() is None:
            values.append(message.value().decode())
    consumer.close()
    return values


def topic_names(admin):
    return set(admin.list_topics(timeout=30).topics)


def test_confluent_admin_deletes_a_topic_and_its_data(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    create(admin, "adm-gone", partitions=2)
    produce(broker, "adm-gone", 5)
    futures = admin.delete_topics(["adm-gone", "adm-never"], operation_timeout=30)
    futures["adm-gone"].result(timeout=30)
    with pytest.raises(KafkaException) as raised:
        futures["adm-never"].result(timeout=30)
    assert "UNKNOWN_TOPIC_OR_PART" in str(raised.value)
    assert "adm-gone" not in topic_names(admin)
    # Created again under the same name it is a new, empty topic.
    create(admin, "adm-gone")
    assert watermarks(broker, "adm-gone") == (0, 0)


def test_confluent_admin_grows_a_topic_and_producers_use_the_new_partitions(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    create(admin, "adm-grow", partitions=1)
    admin.create_partitions([NewPartitions("adm-grow", 3)])["adm-grow"].result(timeout=30)
    assert len(admin.list_topics("adm-grow", timeout=30).topics["adm-grow"].partitions) == 3
    produce(broker, "adm-grow", 2, partition=2)
    assert watermarks(broker, "adm-grow", 2) == (0, 2)
    # Shrinking is refused with Kafka's error; validate_only changes nothing.
    with pytest.raises(KafkaException) as raised:
        admin.create_partitions([NewPartitions("adm-grow", 2)])["adm-grow"].result(timeout=30)
    assert "INVALID_PARTITIONS" in str(raised.value)
    admin.create_partitions([NewPartitions("adm-grow", 6)], validate_only=True)["adm-grow"].result(timeout=30)
    assert len(admin.list_topics("adm-grow", timeout=30).topics["adm-grow"].partitions) == 3


def test_confluent_admin_deletes_records_before_an_offset(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    create(admin, "adm-purge")
    produce(broker, "adm-purge", 6)
    futures = admin.delete_records([TopicPartition("adm-purge", 0, 4)], operation_timeout=30)
    deleted = list(futures.values())[0].result(timeout=30)
    assert deleted.low_watermark == 4
    assert watermarks(broker, "adm-purge") == (4, 6)
    assert read_values(broker, "adm-purge") == ["v4", "v5"]
    # Past the high watermark: OFFSET_OUT_OF_RANGE, nothing changes.
    with pytest.raises(KafkaException) as raised:
        list(admin.delete_records([TopicPartition("adm-purge", 0, 99)], operation_timeout=30).values())[0].result(timeout=30)
    assert "OFFSET_OUT_OF_RANGE" in str(raised.value)
    assert watermarks(broker, "adm-purge") == (4, 6)


def test_kafka_python_admin_deletes_grows_and_purges(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    create(admin, "kp-topic")
    create(admin, "kp-purge")
    produce(broker, "kp-purge", 4)
    client = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=30000)
    try:
        client.create_partitions({"kp-topic": KNewPartitions(total_count=4)})
        assert len(admin.list_topics("kp-topic", timeout=30).topics["kp-topic"].partitions) == 4
        result = client.delete_records({KTopicPartition("kp-purge", 0): 3})
        assert result[KTopicPartition("kp-purge", 0)]["low_watermark"] == 3
        assert watermarks(broker, "kp-purge") == (3, 4)
        client.delete_topics(["kp-topic"])
        assert "kp-topic" not in topic_names(admin)
        with pytest.raises(KError):
            client.delete_topics(["kp-topic"])
    finally:
        client.close()


def test_deleted_topics_free_their_databases_after_a_restart(data_dir):
    """With the partition budget nearly spent, deleting a topic makes room again (at once for a
    topic of the same name, after a restart for any), and what else the store holds survives."""
    node = Broker(data_dir, extra_args=["--max-partitions", "8"]).start()
    try:
        admin = AdminClient({"bootstrap.servers": node.bootstrap})
        create(admin, "budget-kept", partitions=2)
        produce(node, "budget-kept", 3)
        create(admin, "budget-big", partitions=6)
        admin.delete_topics(["budget-big"], operation_timeout=30)["budget-big"].result(timeout=30)
    finally:
        node.stop()
    node = Broker(data_dir, kafka_port=node.kafka_port, extra_args=["--max-partitions", "8"]).start()
    try:
        admin = AdminClient({"bootstrap.servers": node.bootstrap})
        create(admin, "budget-other", partitions=6)
        assert watermarks(node, "budget-kept") == (0, 3)
    finally:
        node.stop()
    assert "0 corrupt" in paynode("store", "verify", "--data-dir", data_dir)


def test_the_service_refuses_to_delete_grow_or_purge_payment_topics(data_dir):
    """Even a super user (the compat clusters make User:ANONYMOUS one) cannot remove the
    pipeline's system of record through Kafka."""
    node = Broker(data_dir, node="service").start()
    try:
        admin = AdminClient({"bootstrap.servers": node.bootstrap})
        futures = admin.delete_topics(["psp-result-updates", "payment-orders"], operation_timeout=30)
        for future in futures.values():
            with pytest.raises(KafkaException) as raised:
                future.result(timeout=30)
            assert "POLICY_VIOLATION" in str(raised.value)
        with pytest.raises(KafkaException) as raised:
            admin.create_partitions([NewPartitions("payment-events", 12)])["payment-events"].result(timeout=30)
        assert "POLICY_VIOLATION" in str(raised.value)
        with pytest.raises(KafkaException) as raised:
            list(admin.delete_records([TopicPartition("psp-result-updates", 0, -1)], operation_timeout=30).values())[0].result(timeout=30)
        assert "POLICY_VIOLATION" in str(raised.value)
        assert {"psp-result-updates", "payment-orders", "payment-events"} <= topic_names(admin)
    finally:
        node.stop()


def test_kafka_python_describes_the_log_dir(broker):
    """DescribeLogDirs: the data directory with each partition's bytes (kafka-python's
    describe_log_dirs). OffsetForLeaderEpoch has no client-side trigger on a broker whose
    leader epoch never changes; its codec and answers are tested in Swift."""
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    create(admin, "logdir-topic", partitions=2)
    produce(broker, "logdir-topic", 4)
    client = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=30000)
    try:
        (node,) = client.describe_log_dirs()
        (directory,) = node["log_dirs"]
        assert directory["error_code"] == 0 and directory["log_dir"] == broker.data_dir, directory
        assert 0 < directory["usable_bytes"] <= directory["total_bytes"], directory
        (topic,) = [topic for topic in directory["topics"] if topic["name"] == "logdir-topic"]
        sizes = {partition["partition_index"]: partition["partition_size"] for partition in topic["partitions"]}
        assert sizes[0] > 0 and sizes[1] == 0, sizes
    finally:
        client.close()
