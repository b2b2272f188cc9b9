"""Authorization (issue 17): Kafka ACLs with Kafka's semantics and codes, the service's built-in
payment ACLs, and provenance. With no configuration, only the executor principal may write
psp-result-updates and nobody may join or commit to the service's group `payment-service`; even
when an ACL is loosened by mistake, the service applies results only from batches whose producer
id was issued to the executor principal and dead-letters the rest with the reason."""
import json
import subprocess
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AdminClient,
                                   ResourcePatternType, ResourceType)

from conftest import PAYNODE, Broker, paynode
from test_payment_service import SCHEMA_HEADERS, Api, psp_result, wait_for
from test_hostile_kafka import Connection, commit
from test_poison import dead_letters

SECURE = ["--executor-principal", "User:executor"]  # the default, named so conftest leaves it alone


def forge(bootstrap, order_id):
    """An idempotent producer sends a SUCCESSFUL result for `order_id`; returns the delivery error."""
    outcome = []
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "message.timeout.ms": 10000})
    producer.produce("psp-result-updates", key=order_id.encode(), headers=SCHEMA_HEADERS,
                     value=psp_result(order_id, "SUCCESSFUL", "pi_forged"), on_delivery=lambda err, msg: outcome.append(err))
    producer.flush(30)
    assert outcome, "no delivery report"
    return outcome[0]


def status(api, order):
    return api.call("GET", f"/v1/payment-orders/{order['paymentOrderId']}")[2]["status"]


def test_an_unauthenticated_client_cannot_report_a_result_nor_move_the_service_group(data_dir):
    service = Broker(data_dir, node="service", extra_args=SECURE).start()
    api = Api(service.http_port)
    try:
        code, _, order = api.create("victim", token="tok_pending")
        assert code == 201
        error = forge(service.bootstrap, order["paymentOrderId"])
        assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, error
        kcat = subprocess.run(["kcat", "-b", service.bootstrap, "-P", "-t", "psp-result-updates", "-k", order["paymentOrderId"]],
                              input=b"forged", capture_output=True, timeout=60)
        assert b"authoriz" in kcat.stderr.lower(), kcat.stderr
        # Reading the results is refused as well.
        reading = subprocess.run(["kcat", "-b", service.bootstrap, "-C", "-t", "psp-result-updates", "-o", "beginning", "-e"],
                                 capture_output=True, timeout=60)
        assert b"authoriz" in reading.stderr.lower() and reading.stdout == b"", reading
        # An outsider's OffsetCommit on the service's own group is refused. Sent raw: a client
        # cannot even find the group's coordinator (GROUP_AUTHORIZATION_FAILED), so librdkafka
        # never gets as far as committing.
        connection = Connection(service.kafka_port)
        assert commit(connection, "payment-service", "psp-result-updates", 0, 1_000_000) == KafkaError.GROUP_AUTHORIZATION_FAILED
        assert commit(connection, "someone-else", "psp-result-updates", 0, 0) == KafkaError.TOPIC_AUTHORIZATION_FAILED
        connection.close()
        time.sleep(2)
        assert status(api, order) == "PENDING"
    finally:
        service.stop()
    groups = paynode("store", "groups", "--data-dir", data_dir, "payment-service")
    assert "1000000" not in groups, groups


def test_each_dead_letter_topic_has_one_writer(data_dir):
    """The executor principal writes its own payment-orders.dlq, never the service's
    psp-result-updates.dlq nor payment-orders; nobody else writes either DLQ."""
    service = Broker(data_dir, node="service", extra_args=["--executor-principal", "User:ANONYMOUS"]).start()

    def produce(topic):
        return subprocess.run(["kcat", "-b", service.bootstrap, "-P", "-t", topic, "-k", "k", "-X", "message.timeout.ms=10000"],
                              input=b"letter", capture_output=True, timeout=60)
    try:
        as_executor = produce("payment-orders.dlq")
        assert as_executor.returncode == 0 and b"authoriz" not in as_executor.stderr.lower(), as_executor
        for topic in ["psp-result-updates.dlq", "payment-orders", "payment-events"]:
            refused = produce(topic)
            assert b"authoriz" in refused.stderr.lower(), (topic, refused)
    finally:
        service.stop()
    service = Broker(data_dir, node="service", extra_args=SECURE).start()
    try:
        for topic in ["payment-orders.dlq", "psp-result-updates.dlq"]:
            refused = produce(topic)
            assert b"authoriz" in refused.stderr.lower(), (topic, refused)
    finally:
        service.stop()


def test_a_loosened_acl_still_cannot_make_a_forged_result_count(data_dir):
    service = Broker(data_dir, node="service", extra_args=SECURE).start()
    api = Api(service.http_port)
    try:
        code, _, order = api.create("victim", token="tok_pending")
        assert code == 201
    finally:
        service.stop()
    # The mistake: every principal may write psp-result-updates.
    out = paynode("acls", "add", "--data-dir", data_dir, "--principal", "User:*", "--operation", "Write", "--topic", "psp-result-updates")
    assert "added" in out, out
    assert "Allow User:* from * Write on Topic:psp-result-updates" in paynode("acls", "list", "--data-dir", data_dir)
    service.start()
    try:
        assert forge(service.bootstrap, order["paymentOrderId"]) is None  # the ACL let it through
        letters = []
        wait_for(lambda: letters.extend(dead_letters(service.bootstrap, "psp-result-updates.dlq")) or letters, 30, "the forged result's dead letter")
        reasons = [headers.get("paynode-dlq-reason", b"").decode() for headers, _ in letters]
        assert any("User:ANONYMOUS, who may not report PSP results" in reason for reason in reasons), reasons
        assert status(api, order) == "PENDING"
        audit = api.call("GET", f"/v1/payment-orders/{order['paymentOrderId']}/audit")[2]
        refused = [entry for entry in audit["entries"] if entry["outcome"] == "dead-lettered"]
        assert refused and refused[0]["producer"] == "User:ANONYMOUS", audit
    finally:
        service.stop()
    out = paynode("acls", "remove", "--data-dir", data_dir, "--principal", "User:*", "--operation", "Write", "--topic", "psp-result-updates")
    assert "removed" in out, out
    assert "no stored ACLs" in paynode("acls", "list", "--data-dir", data_dir)


def test_stored_acls_close_a_topic_and_admin_clients_manage_them(data_dir):
    paynode("acls", "add", "--data-dir", data_dir, "--principal", "User:auditor", "--operation", "Read", "--topic", "secret")
    broker = Broker(data_dir).start()
    try:
        subprocess.run(["kcat", "-b", broker.bootstrap, "-P", "-t", "open"], input=b"hello\n", check=True, timeout=60)
        refused = subprocess.run(["kcat", "-b", broker.bootstrap, "-P", "-t", "secret"], input=b"hello\n",
                                 capture_output=True, timeout=60)
        assert b"authoriz" in refused.stderr.lower(), refused.stderr
        # Without ALTER on the cluster nobody manages ACLs, whatever allow.everyone.if.no.acl.found says.
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        binding = AclBinding(ResourceType.TOPIC, "secret", ResourcePatternType.LITERAL, "User:*", "*",
                             AclOperation.WRITE, AclPermissionType.ALLOW)
        future = admin.create_acls([binding])[binding]
        try:
            future.result(timeout=30)
            raise AssertionError("an anonymous client created an ACL")
        except KafkaException as error:
            assert error.args[0].code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED, error
    finally:
        broker.stop()

    admin_broker = Broker(data_dir, extra_args=["--super-users", "User:ANONYMOUS"]).start()
    try:
        admin = AdminClient({"bootstrap.servers": admin_broker.bootstrap})
        binding = AclBinding(ResourceType.TOPIC, "payments-", ResourcePatternType.PREFIXED, "User:reporter", "*",
                             AclOperation.READ, AclPermissionType.ALLOW)
        admin.create_acls([binding])[binding].result(timeout=30)
        everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY, AclPermissionType.ANY)
        described = admin.describe_acls(everything).result(timeout=30)
        assert {(b.name, b.principal, b.operation) for b in described} == {
            ("secret", "User:auditor", AclOperation.READ), ("payments-", "User:reporter", AclOperation.READ)}, described
        # kafka-python's admin client reads the same bindings.
        from kafka.admin import ACLFilter, ACLOperation, ACLPermissionType, KafkaAdminClient, ResourcePatternFilter
        from kafka.admin import ResourceType as KPResourceType, ACLResourcePatternType
        client = KafkaAdminClient(bootstrap_servers=admin_broker.bootstrap)
        acls, error = client.describe_acls(ACLFilter(principal=None, host="*", operation=ACLOperation.ANY,
                                                     permission_type=ACLPermissionType.ANY,
                                                     resource_pattern=ResourcePatternFilter(KPResourceType.TOPIC, "secret",
                                                                                            ACLResourcePatternType.LITERAL)))
        assert error.errno == 0 and [acl.principal for acl in acls] == ["User:auditor"], (acls, error)
        client.close()
        prefix_filter = AclBindingFilter(ResourceType.TOPIC, "payments-", ResourcePatternType.PREFIXED, None, None,
                                         AclOperation.ANY, AclPermissionType.ANY)
        deleted = admin.delete_acls([prefix_filter])[prefix_filter].result(timeout=30)
        assert [b.principal for b in deleted] == ["User:reporter"], deleted
        assert {b.name for b in admin.describe_acls(everything).result(timeout=30)} == {"secret"}
    finally:
        admin_broker.stop()


def test_a_node_holds_at_most_ten_thousand_acls_whether_added_offline_or_over_kafka(data_dir):
    """`paynode acls add` and CreateAcls store through one StoredAcl.add: one limit, counted over
    what is stored; a request that would pass it stores none of its bindings."""
    def reader(index):
        return AclBinding(ResourceType.TOPIC, f"t{index}", ResourcePatternType.LITERAL, "User:reader", "*",
                          AclOperation.READ, AclPermissionType.ALLOW)

    def offline_add(index):
        return paynode("acls", "add", "--data-dir", data_dir, "--principal", "User:reader", "--operation", "read",
                       "--topic", f"t{index}", check=False)

    broker = Broker(data_dir, extra_args=["--super-users", "User:ANONYMOUS"]).start()
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        too_many = [reader(index) for index in range(10_001)]
        for future in admin.create_acls(too_many, request_timeout=60).values():
            try:
                future.result(timeout=60)
                raise AssertionError("10,001 ACLs were accepted")
            except KafkaException as error:
                assert error.args[0].code() == KafkaError.INVALID_REQUEST, error
        fitting = [reader(index) for index in range(9_999)]
        for future in admin.create_acls(fitting, request_timeout=60).values():
            future.result(timeout=60)
        everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY, AclPermissionType.ANY)
        assert len(admin.describe_acls(everything).result(timeout=60)) == 9_999
    finally:
        broker.stop()

    assert "added" in offline_add(9_999)
    assert "already present" in offline_add(0)  # a stored binding is no new one, even at the limit
    refused = subprocess.run([PAYNODE, "acls", "add", "--data-dir", data_dir, "--principal", "User:reader", "--operation",
                              "read", "--topic", "t10000"], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "at most 10000 ACLs" in refused.stderr, refused

    broker = Broker(data_dir, extra_args=["--super-users", "User:ANONYMOUS"]).start()
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        one_more, stored = reader(10_000), reader(5)
        futures = admin.create_acls([one_more, stored], request_timeout=60)
        for future in futures.values():
            try:
                future.result(timeout=60)
                raise AssertionError("an ACL past the limit was accepted")
            except KafkaException as error:
                assert error.args[0].code() == KafkaError.INVALID_REQUEST, error
        admin.create_acls([stored], request_timeout=60)[stored].result(timeout=60)
        assert len(admin.describe_acls(everything).result(timeout=60)) == 10_000
    finally:
        broker.stop()
