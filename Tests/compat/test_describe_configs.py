"""DescribeConfigs and IncrementalAlterConfigs (issue 21) with unmodified clients against `paynode broker`: confluent-kafka's
AdminClient (librdkafka, which sends v1-v4 as the broker allows) and kafka-python's admin
client read a topic's configs as created, the broker's own, and an unknown topic's error."""
import pytest
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource, NewTopic
from kafka.admin import ConfigResource as KConfigResource, ConfigResourceType, KafkaAdminClient


def create(admin, name, config):
    futures = admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1, config=config)])
    futures[name].result(timeout=30)


def test_confluent_admin_describes_topic_and_broker_configs(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    create(admin, "described", {"retention.ms": "3600000", "retention.bytes": "1048576"})
    create(admin, "defaults", {})
    futures = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "described"),
                                      ConfigResource(ConfigResource.Type.TOPIC, "defaults"),
                                      ConfigResource(ConfigResource.Type.BROKER, "0")])
    configs = {resource.name: future.result(timeout=30) for resource, future in futures.items()}
    described = configs["described"]
    assert described["retention.ms"].value == "3600000"
    assert described["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert described["retention.bytes"].value == "1048576"
    assert described["cleanup.policy"].value == "delete"
    assert {name for name, entry in described.items() if not entry.is_read_only} == {"cleanup.policy", "retention.ms", "retention.bytes",
                                                                                  "max.message.bytes", "paynode.value.schema"}
    defaults = configs["defaults"]
    assert defaults["retention.ms"].value == "-1"
    assert defaults["retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value
    node = configs["0"]
    assert node["broker.id"].value == "0"
    assert int(node["message.max.bytes"].value) == int(described["max.message.bytes"].value) > 0


def test_a_topics_max_message_bytes_binds_producers_at_once(broker):
    """Created with max.message.bytes, raised at run time with IncrementalAlterConfigs: the
    producer's batch is refused (MSG_SIZE_TOO_LARGE) and then accepted."""
    from confluent_kafka import KafkaError, Producer
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    create(admin, "limited", {"max.message.bytes": "2000"})
    (future,) = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "limited")]).values()
    assert future.result(timeout=30)["max.message.bytes"].value == "2000"

    def produce(size):
        errors = []
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0, "compression.type": "none"})
        producer.produce("limited", value=b"x" * size, partition=0, on_delivery=lambda error, _: errors.append(error))
        producer.flush(30)
        return errors[0]

    assert produce(100) is None
    refused = produce(5000)
    assert refused is not None and refused.code() == KafkaError.MSG_SIZE_TOO_LARGE, refused
    resource = ConfigResource(ConfigResource.Type.TOPIC, "limited", incremental_configs=[
        ConfigEntry("max.message.bytes", "100000", incremental_operation=AlterConfigOpType.SET)])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)
    assert produce(5000) is None


def test_confluent_admin_gets_an_error_for_an_unknown_topic(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "no-such-topic")])
    with pytest.raises(Exception) as raised:
        list(futures.values())[0].result(timeout=30)
    assert "UNKNOWN_TOPIC" in str(raised.value).upper() or "does not exist" in str(raised.value)


def test_kafka_python_admin_describes_topic_configs(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    create(admin, "kp-described", {"retention.ms": "120000"})
    client = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=30000)
    try:
        # kafka-python 3: {resource type: {name: {key: {value, source, ...}}}}; "modified" (its
        # default filter) keeps only values set on the topic.
        modified = client.describe_configs([KConfigResource(ConfigResourceType.TOPIC, "kp-described")], include_synonyms=True)
        (by_name,) = modified.values()
        entries = by_name["kp-described"]
        assert set(entries) == {"retention.ms"}, entries
        assert str(entries["retention.ms"]["value"]) == "120000", entries
        everything = client.describe_configs([KConfigResource(ConfigResourceType.TOPIC, "kp-described")], config_filter="all")
        (by_name,) = everything.values()
        assert by_name["kp-described"]["cleanup.policy"]["value"] == "delete"
    finally:
        client.close()


def test_confluent_admin_alters_retention_incrementally(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    create(admin, "altered", {"retention.bytes": "1048576"})
    resource = ConfigResource(ConfigResource.Type.TOPIC, "altered", incremental_configs=[
        ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("retention.bytes", None, incremental_operation=AlterConfigOpType.DELETE),
    ])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)
    (future,) = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "altered")]).values()
    configs = future.result(timeout=30)
    assert configs["retention.ms"].value == "7200000"
    assert configs["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert configs["retention.bytes"].value == "-1"
    # Compaction is not implemented: asking for it is refused and changes nothing.
    refused = ConfigResource(ConfigResource.Type.TOPIC, "altered", incremental_configs=[
        ConfigEntry("retention.ms", "1", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SET),
    ])
    with pytest.raises(Exception) as raised:
        for future in admin.incremental_alter_configs([refused]).values():
            future.result(timeout=30)
    assert "compact" in str(raised.value)
    (future,) = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "altered")]).values()
    assert future.result(timeout=30)["retention.ms"].value == "7200000"


def test_a_topic_schema_refuses_records_that_are_not_the_message(broker):
    """`paynode topics create --schema`: a PspResultUpdateEvent value is stored; garbage, and an
    event missing a required field, are refused at produce with INVALID_RECORD naming what is
    wrong; DescribeConfigs shows the schema as the topic's own."""
    from confluent_kafka import KafkaError, Producer
    from conftest import paynode
    from test_payment_service import psp_result
    paynode("topics", "create", "results", "--partitions", "1", "--schema", "paynode.events.v1.PspResultUpdateEvent",
            "--bootstrap-servers", broker.bootstrap)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    (future,) = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "results")]).values()
    entry = future.result(timeout=30)["paynode.value.schema"]
    assert entry.value == "paynode.events.v1.PspResultUpdateEvent" and entry.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value

    def produce(value):
        outcome = []
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0, "retries": 0})
        producer.produce("results", value=value, partition=0, on_delivery=lambda error, _: outcome.append(error))
        producer.flush(30)
        return outcome[0]

    assert produce(psp_result("01a20a1d-1df5-7000-82b1-4b8a7559036f", "SUCCESSFUL")) is None
    garbage = produce(b"\xff\xff\xff")
    assert garbage is not None and garbage.code() == KafkaError.INVALID_RECORD, garbage
    no_psp = psp_result("01a20a1d-1df5-7000-82b1-4b8a7559036f", "SUCCESSFUL")[:-8]  # the trailing psp field cut off
    refused = produce(no_psp)
    assert refused is not None and refused.code() == KafkaError.INVALID_RECORD, refused
    with pytest.raises(AssertionError):
        paynode("topics", "create", "bad-schema", "--schema", "no.Such", "--bootstrap-servers", broker.bootstrap)
