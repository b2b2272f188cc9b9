"""During a run of 5,000 orders the service and the executor are each SIGKILLed and restarted
several times at random moments, and so is the ledger consuming payment-events beside them.
Afterwards every order is terminal and correct, no transition
was applied twice, no PSP result is missing from psp-result-updates, none is in it twice (the
executor's outbox re-sends unacknowledged results with their original producer sequences, so
the broker deduplicates them), the group lag is zero, and the ledger posted every success exactly
once with its invariants holding."""
import collections
import concurrent.futures
import http.client
import random
import subprocess
import threading
import time
import urllib.error

import pytest

from conftest import PAYNODE, Broker, paynode
from test_payment_service import Api, read_all, wait_for
from test_pipeline_e2e import TOKENS, Executor, check_orders, no_pending

ORDERS = 5000


def decode_result(value):
    """(payment_order_id, psp_status, psp_reference, event_time_unix_ms) from a
    PspResultUpdateEvent's protobuf bytes."""
    position, order, status, reference, event_time = 0, None, None, None, None

    def varint():
        nonlocal position
        result, shift = 0, 0
        while True:
            byte = value[position]
            position += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return result

    while position < len(value):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            data = varint()
            if number == 2:
                status = data
            elif number == 4:
                event_time = data
        elif wire == 2:
            length = varint()
            data = value[position:position + length]
            position += length
            if number == 1:
                order = data.decode()
            elif number == 3:
                reference = data.decode()
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return order, status, reference, event_time


def kill_and_restart(node, rng):
    """SIGKILL `node` (a Broker or an Executor) and start it again after a short random pause."""
    node.kill()
    time.sleep(rng.uniform(0.05, 0.3))
    node.start()


def secure_cluster(data_dir):
    """SASL_SSL on the Kafka listener: the executor authenticates as User:executor (the default
    executor principal) with SCRAM-SHA-512 over TLS, the ledger as User:ledger (an ordinary
    reader of payment-events), the checker as a super user."""
    certs = data_dir + "-certs"
    paynode("certs", "init", "--dir", certs)
    secrets = {}
    for user in ("executor", "ledger", "checker"):
        secrets[user] = f"{user}-{random.randrange(1 << 60)}"
        with open(f"{data_dir}-{user}.password", "w") as handle:
            handle.write(secrets[user] + "\n")
        paynode("users", "add", "--data-dir", data_dir + "/service", "--name", user, "--mechanism", "SCRAM-SHA-512",
                "--password-file", f"{data_dir}-{user}.password")
    service_args = ["--kafka-security-protocol", "SASL_SSL", "--tls-cert-file", f"{certs}/server.pem",
                    "--tls-key-file", f"{certs}/server-key.pem", "--executor-principal", "User:executor",
                    "--super-users", "User:checker"]
    executor_args, ledger_args = ([
        "--kafka-security-protocol", "SASL_SSL", "--tls-ca-file", f"{certs}/ca.pem", "--sasl-mechanism", "SCRAM-SHA-512",
        "--sasl-username", user, "--sasl-password-file", f"{data_dir}-{user}.password"] for user in ("executor", "ledger"))
    client = {"security.protocol": "SASL_SSL", "ssl.ca.location": f"{certs}/ca.pem", "sasl.mechanisms": "SCRAM-SHA-512",
              "sasl.username": "checker", "sasl.password": secrets["checker"]}
    cli = ["--kafka-security-protocol", "SASL_SSL", "--tls-ca-file", f"{certs}/ca.pem", "--sasl-mechanism", "SCRAM-SHA-512",
           "--sasl-username", "checker", "--sasl-password-file", f"{data_dir}-checker.password"]
    return service_args, executor_args, ledger_args, client, cli


@pytest.mark.parametrize("security", ["plaintext", "sasl_ssl"])
def test_kills_of_service_and_executor_lose_and_duplicate_nothing(data_dir, security):
    rng = random.Random(20261123)
    from test_ledger import Ledger, check_ledger
    service_args, executor_args, ledger_args, client, cli = secure_cluster(data_dir) if security == "sasl_ssl" else ([], [], [], None, [])
    service = Broker(data_dir + "/service", node="service", extra_args=service_args).start()
    executor = Executor(data_dir + "-executor", service.bootstrap, executor_args).start()
    ledger = Ledger(data_dir + "-ledger", service.bootstrap, ledger_args).start()
    api = Api(service.http_port)
    orders = {}
    tokens = list(TOKENS)
    done = threading.Event()

    def create(index):
        token = tokens[index % len(tokens)]
        body = {"merchantId": "m_crash", "amount": 100 + index, "currency": "EUR", "paymentMethod": token,
                "psp": "stripe" if index % 2 else "adyen"}
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                status, _, view = api.call("POST", "/v1/payment-orders", body, {"Idempotency-Key": f"crash-{index}"})
                if status == 201:
                    return view["paymentOrderId"], token
            except (urllib.error.URLError, ConnectionError, OSError, http.client.HTTPException, ValueError):
                pass  # killed mid-request or mid-response (a torn status line or body)
            time.sleep(0.1)  # the service is restarting: retry with the same key
        raise AssertionError(f"order {index} could not be created")

    failures = []

    def load():
        try:
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                orders.update(pool.map(create, range(ORDERS)))
        except BaseException as error:  # the kill loop below must end whatever happens here
            failures.append(error)
        finally:
            done.set()

    loader = threading.Thread(target=load)
    loader.start()
    kills = {"service": 0, "executor": 0, "ledger": 0}
    nodes = {"service": service, "executor": executor, "ledger": ledger}
    try:
        while not done.is_set() or sum(kills.values()) < 9:
            time.sleep(rng.uniform(0.3, 1.2))
            victim = min(kills, key=kills.get)
            kill_and_restart(nodes[victim], rng)
            kills[victim] += 1
        loader.join(timeout=300)
        assert not failures, failures
        assert len(orders) == ORDERS
        wait_for(lambda: no_pending(api), 180, "every order to become terminal after the kills")
        check_orders(api, service.bootstrap, orders, client)

        # No PSP result missing: each order's results are in psp-result-updates.
        results = collections.defaultdict(set)
        copies = collections.Counter()
        for message in read_all(service.bootstrap, "psp-result-updates", client):
            order, status, reference, event_time = decode_result(message.value())
            results[order].add(status)
            copies[(order, status, reference, event_time)] += 1
        expected = {"SUCCESSFUL": {1}, "FAILED": {2}}
        missing = [(order, token) for order, token in orders.items()
                   if not (expected[TOKENS[token][0]] | ({3} if token == "tok_pending" else set())) <= results[order]]
        assert not missing, f"{len(missing)} orders lack a PSP result in psp-result-updates, e.g. {missing[:3]}"

        # No PSP result twice: the same result (order, status, reference, time) appears once.
        duplicated = [(result, count) for result, count in copies.items() if count > 1]
        assert not duplicated, f"{len(duplicated)} PSP results appear more than once in psp-result-updates, e.g. {duplicated[:3]}"

        lag = subprocess.run([PAYNODE, "groups", "describe", "payment-service", "--topic", "psp-result-updates",
                              "--bootstrap-servers", service.bootstrap, *cli], capture_output=True, text=True, timeout=60).stdout
        rows = [line for line in lag.splitlines() if "high-watermark=" in line]
        assert rows and all("lag=0" in row for row in rows), lag
        assert all(count >= 3 for count in kills.values()), kills
        check_ledger(ledger, api, list(orders), timeout=180)
    finally:
        done.set()
        ledger.stop()
        executor.stop()
        service.stop()
