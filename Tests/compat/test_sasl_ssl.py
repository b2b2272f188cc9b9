"""SASL_SSL (issue 17): TLS and SASL together, as production listeners run. kcat, confluent-kafka
and kafka-python produce, consume and use groups over SASL_SSL with SCRAM-SHA-512 and PLAIN;
a wrong password and a client without TLS are refused; and an authenticated principal that is
not the executor cannot report a PSP result: the order stays PENDING."""
import os
import subprocess
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from kafka import KafkaConsumer, KafkaProducer

from conftest import Broker, paynode
from test_payment_service import SCHEMA_HEADERS, Api, psp_result
from test_sasl import add_user

PASSWORD = "sasl-over-tls"


@pytest.fixture
def certs(tmp_path):
    directory = str(tmp_path / "certs")
    paynode("certs", "init", "--dir", directory)
    return {name: os.path.join(directory, f"{name}.pem") for name in ["ca", "server", "server-key"]}


def listener_args(certs):
    return ["--kafka-security-protocol", "SASL_SSL", "--tls-cert-file", certs["server"], "--tls-key-file", certs["server-key"]]


def confluent(node, certs, mechanism, user="alice", password=PASSWORD, **extra):
    return {"bootstrap.servers": node.bootstrap, "security.protocol": "SASL_SSL", "ssl.ca.location": certs["ca"],
            "sasl.mechanisms": mechanism, "sasl.username": user, "sasl.password": password, **extra}


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "PLAIN"])
def test_real_clients_over_sasl_ssl(data_dir, certs, mechanism):
    add_user(data_dir, "alice", PASSWORD)
    node = Broker(data_dir, extra_args=listener_args(certs)).start()
    try:
        topic = f"secure-{mechanism.lower()}"
        kcat = ["kcat", "-b", node.bootstrap, "-X", "security.protocol=SASL_SSL", "-X", f"ssl.ca.location={certs['ca']}",
                "-X", f"sasl.mechanisms={mechanism}", "-X", "sasl.username=alice", "-X", f"sasl.password={PASSWORD}"]
        subprocess.run(kcat + ["-P", "-t", topic], input=b"from-kcat\n", check=True, timeout=60)
        producer = Producer(confluent(node, certs, mechanism, **{"enable.idempotence": True}))
        producer.produce(topic, value=b"from-confluent")
        assert producer.flush(30) == 0
        python = KafkaProducer(bootstrap_servers=node.bootstrap, security_protocol="SASL_SSL", ssl_cafile=certs["ca"],
                               sasl_mechanism=mechanism, sasl_plain_username="alice", sasl_plain_password=PASSWORD)
        python.send(topic, b"from-kafka-python").get(timeout=30)
        python.close()
        consumed = subprocess.run(kcat + ["-C", "-t", topic, "-o", "beginning", "-e", "-q"], capture_output=True, check=True, timeout=60)
        assert sorted(consumed.stdout.split()) == [b"from-confluent", b"from-kafka-python", b"from-kcat"], consumed
        # A consumer group over SASL_SSL: confluent-kafka and kafka-python each commit and resume.
        group = Consumer(confluent(node, certs, mechanism, **{"group.id": "secure-readers", "auto.offset.reset": "earliest",
                                                              "enable.auto.commit": False}))
        group.subscribe([topic])
        seen = []
        deadline = time.time() + 60
        while len(seen) < 3 and time.time() < deadline:
            message = group.poll(1)
            if message is not None and message.error() is None:
                seen.append(message.value())
        group.commit(asynchronous=False)
        group.close()
        assert len(seen) == 3
        reader = KafkaConsumer(topic, bootstrap_servers=node.bootstrap, security_protocol="SASL_SSL", ssl_cafile=certs["ca"],
                               sasl_mechanism=mechanism, sasl_plain_username="alice", sasl_plain_password=PASSWORD,
                               group_id="secure-readers", auto_offset_reset="earliest", consumer_timeout_ms=5000)
        assert list(reader) == []  # the group's commit holds: nothing is read twice
        reader.close()
        # A wrong password, and a client that skips TLS, are refused. kcat retries either until
        # -m runs out and then fails: 5 s is far above the milliseconds a refusal takes (a 10 s
        # wait here was a third of the test).
        wrong = subprocess.run(["kcat", "-b", node.bootstrap, "-X", "security.protocol=SASL_SSL", "-X", f"ssl.ca.location={certs['ca']}",
                                "-X", f"sasl.mechanisms={mechanism}", "-X", "sasl.username=alice", "-X", "sasl.password=wrong", "-L",
                                "-m", "5"], capture_output=True, timeout=60)
        assert wrong.returncode != 0 and b"authentication" in wrong.stderr.lower(), wrong.stderr
        no_tls = subprocess.run(["kcat", "-b", node.bootstrap, "-X", "security.protocol=SASL_PLAINTEXT", "-X", f"sasl.mechanisms={mechanism}",
                                 "-X", "sasl.username=alice", "-X", f"sasl.password={PASSWORD}", "-L", "-m", "5"],
                                capture_output=True, timeout=60)
        assert no_tls.returncode != 0, no_tls.stdout
    finally:
        node.stop()


def test_an_authenticated_principal_that_is_not_the_executor_cannot_report_a_result(data_dir, certs):
    add_user(data_dir, "mallory", PASSWORD)
    service = Broker(data_dir, node="service", extra_args=listener_args(certs) + ["--executor-principal", "User:executor"]).start()
    api = Api(service.http_port)
    try:
        code, _, order = api.create(f"victim-{uuid.uuid4()}", token="tok_pending")
        assert code == 201
        outcome = []
        producer = Producer(confluent(service, certs, "SCRAM-SHA-512", user="mallory",
                                      **{"enable.idempotence": True, "message.timeout.ms": 10000}))
        producer.produce("psp-result-updates", key=order["paymentOrderId"].encode(), headers=SCHEMA_HEADERS,
                         value=psp_result(order["paymentOrderId"], "SUCCESSFUL", "pi_forged"),
                         on_delivery=lambda err, msg: outcome.append(err))
        producer.flush(30)
        assert outcome and outcome[0] is not None and outcome[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, outcome
        time.sleep(1)
        assert api.call("GET", f"/v1/payment-orders/{order['paymentOrderId']}")[2]["status"] == "PENDING"
    finally:
        service.stop()
