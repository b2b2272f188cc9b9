"""Webhooks and the executor's own results for the same payments, while the service and the
executor are SIGKILLed and restarted, reconciliation follow-ups parked in between (issue 19's
crash test): every webhook the service
acknowledged is in the order's audit trail afterwards (acknowledged only once durable), every
order made exactly one transition and one terminal event, and the two channels never read as
a conflict."""
import concurrent.futures
import http.client
import json
import random
import threading
import time
import urllib.error

from test_payment_service import Api, read_all, wait_for
from test_pipeline_crash import kill_and_restart
from test_pipeline_e2e import Executor, no_pending
from test_webhooks import STRIPE_SECRETS, post, start as start_service, stripe_signature

ORDERS = 400


def simulated_reference(order_id):
    """The simulated Stripe's reference for an order: "pi_" and the id's last 12 bytes in hex."""
    return "pi_" + order_id.replace("-", "")[8:]


def test_webhooks_and_executor_results_survive_kills_and_apply_once(data_dir):
    rng = random.Random(20261204)
    service = start_service(data_dir)
    # Every PENDING payment is reconciled after 6 s, longer than the executor keeps it in a
    # payment slot: the kills land while payments are parked, and a restart resumes them from
    # the journal.
    executor = Executor(data_dir + "-executor", service.bootstrap,
                        ["--pending-prompt-seconds", "0", "--reconcile-first-seconds", "6"]).start()
    api = Api(service.http_port)
    orders = []
    acknowledged = set()
    failures = []
    done = threading.Event()

    def retrying(call):
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                result = call()
                if result is not None:
                    return result
            except (urllib.error.URLError, ConnectionError, OSError, http.client.HTTPException, ValueError):
                pass  # killed mid-request: the same request again (idempotent)
            time.sleep(0.1)
        raise AssertionError("the service did not come back")

    def create(index):
        def attempt():
            status, _, view = api.call("POST", "/v1/payment-orders", {"merchantId": "m_wh", "amount": 100 + index, "currency": "EUR",
                                                                      "paymentMethod": "tok_pending", "psp": "stripe"},
                                       {"Idempotency-Key": f"whcrash-{index}"})
            return view["paymentOrderId"] if status == 201 else None
        return retrying(attempt)

    def deliver(order_id):
        body = json.dumps({"id": f"evt_{order_id}", "type": "payment_intent.succeeded", "created": int(time.time()),
                           "data": {"object": {"id": simulated_reference(order_id), "object": "payment_intent",
                                               "status": "succeeded", "metadata": {"payment_order_id": order_id}}}}).encode()

        def attempt():
            code, _ = post(service.http_port, "/v1/webhooks/stripe", body, {"Stripe-Signature": stripe_signature(body, STRIPE_SECRETS[0])})
            return True if code == 200 else None
        retrying(attempt)
        acknowledged.add(order_id)

    def load():
        try:
            with concurrent.futures.ThreadPoolExecutor(6) as pool:
                created = list(pool.map(create, range(ORDERS)))
                orders.extend(created)
                # Each delivered once or twice (Stripe delivers at least once), in random order.
                deliveries = created + rng.sample(created, len(created) // 3)
                rng.shuffle(deliveries)
                list(pool.map(deliver, deliveries))
        except BaseException as error:  # the kill loop below must end whatever happens here
            failures.append(error)
        finally:
            done.set()

    loader = threading.Thread(target=load)
    loader.start()
    kills = {"service": 0, "executor": 0}
    try:
        while not done.is_set() or kills["service"] < 3:
            time.sleep(rng.uniform(0.4, 1.2))
            victim = "service" if kills["service"] <= kills["executor"] + 1 else "executor"
            kill_and_restart(service if victim == "service" else executor, rng)
            kills[victim] += 1
        loader.join(timeout=300)
        assert not failures, failures
        assert acknowledged == set(orders)
        wait_for(lambda: no_pending(api), 180, "every order to be terminal")

        def audit(order_id):
            return api.call("GET", f"/v1/payment-orders/{order_id}/audit")[2]["entries"]

        def executor_settled_all():
            # The executor's own SUCCESSFUL comes from the parked follow-up (6 s after PENDING),
            # resumed from its journal wherever a kill interrupted it.
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                trails = dict(zip(orders, pool.map(audit, orders)))
            settled = all(any(entry.get("producer") != "Webhook:stripe" and entry.get("pspStatus") == "SUCCESSFUL" for entry in trail)
                          for trail in trails.values())
            return trails if settled else None
        trails = wait_for(executor_settled_all, 120, "the executor's follow-ups to settle every order")
        problems = []
        for order_id, entries in trails.items():
            outcomes = [entry["outcome"] for entry in entries]
            if outcomes.count("applied") != 1 or "conflict" in outcomes:
                problems.append((order_id, outcomes))
            # The acknowledged webhook is there: acknowledged only once durable.
            if not any(entry.get("producer") == "Webhook:stripe" for entry in entries):
                problems.append((order_id, "no webhook result", outcomes))
        assert not problems, f"{len(problems)} orders wrong, e.g. {problems[:5]}"
        events = read_all(service.bootstrap, "payment-events")
        per_order = {}
        for message in events:
            per_order[message.key().decode()] = per_order.get(message.key().decode(), 0) + 1
        assert set(per_order) == set(orders) and max(per_order.values()) == 1
    finally:
        executor.stop()
        service.stop()
