"""End to end with separate processes over TCP: `paynode service` and `paynode executor`; 1,000
orders across every token reach exactly the final status their token dictates, each with exactly
one applied transition (two results for tok_pending), and payment-events holds exactly one
terminal event per order; the ledger beside them posts every success exactly once."""
import collections
import concurrent.futures
import os
import signal
import subprocess
import time

from conftest import PAYNODE, Broker
from test_payment_service import Api, read_all, wait_for

TOKENS = {
    "tok_visa": ("SUCCESSFUL", None),
    "tok_chargeDeclined": ("FAILED", "card_declined"),
    "tok_insufficientFunds": ("FAILED", "insufficient_funds"),
    "tok_pending": ("SUCCESSFUL", None),
    "tok_flaky": ("SUCCESSFUL", None),
    "tok_mystery": ("FAILED", "invalid_payment_method"),
}


class Executor:
    def __init__(self, data_dir, bootstrap, extra_args=()):
        self.data_dir, self.bootstrap, self.extra_args = data_dir, bootstrap, list(extra_args)
        self.log = open(data_dir + "-executor.log", "a")
        self.process = None

    def start(self):
        self.process = subprocess.Popen([PAYNODE, "executor", "--data-dir", self.data_dir, "--bootstrap-servers", self.bootstrap,
                                         "--http-listen", "127.0.0.1:0", "--log-level", "warning", *self.extra_args],
                                        stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.process.stdout.readline()
        assert "paynode executor ready" in line, line
        self.ready_line = line
        return self

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


def create_orders(api, count, prefix):
    tokens = list(TOKENS)

    def create(index):
        token = tokens[index % len(tokens)]
        status, _, body = api.call("POST", "/v1/payment-orders",
                                   {"merchantId": "m_e2e", "amount": 100 + index, "currency": "EUR", "paymentMethod": token,
                                    "psp": "stripe" if index % 2 else "adyen"},
                                   {"Idempotency-Key": f"{prefix}-{index}", "Content-Type": "application/json"})
        assert status == 201, body
        return body["paymentOrderId"], token

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return dict(pool.map(create, range(count)))


def no_pending(api):
    return api.call("GET", "/v1/payment-orders?status=PENDING&limit=1")[2]["orders"] == []


def check_orders(api, bootstrap, orders, client=None):
    def fetch(order_id):
        return api.call("GET", f"/v1/payment-orders/{order_id}")[2]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        views = dict(zip(orders, pool.map(fetch, orders)))
    problems = []
    for order_id, token in orders.items():
        view = views[order_id]
        status, error = TOKENS[token]
        outcomes = [h["outcome"] for h in view["history"]]
        if view["status"] != status or view.get("errorCode") != error:
            problems.append((order_id, token, view["status"], view.get("errorCode")))
        if outcomes.count("applied") != 1:
            problems.append((order_id, token, "applied transitions", outcomes))
        distinct = [h for h in view["history"] if h["outcome"] != "duplicate"]
        if len(distinct) != (2 if token == "tok_pending" else 1):
            problems.append((order_id, token, "results", outcomes))
    assert not problems, f"{len(problems)} orders wrong, e.g. {problems[:5]}"
    events = read_all(bootstrap, "payment-events", client)
    per_order = collections.Counter(m.key().decode() for m in events)
    assert set(per_order) == set(orders)
    assert max(per_order.values()) == 1, [k for k, v in per_order.items() if v > 1][:5]


def test_thousand_orders_across_every_token(data_dir):
    from test_ledger import Ledger, check_ledger
    service = Broker(data_dir + "/service", node="service").start()
    executor = Executor(data_dir + "-executor", service.bootstrap).start()
    ledger = Ledger(data_dir + "-ledger", service.bootstrap).start()
    try:
        api = Api(service.http_port)
        orders = create_orders(api, 1000, "e2e")
        wait_for(lambda: no_pending(api), 120, "every order to become terminal")
        check_orders(api, service.bootstrap, orders)
        check_ledger(ledger, api, list(orders))
    finally:
        ledger.stop()
        executor.stop()
        service.stop()
