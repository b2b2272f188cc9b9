"""`paynode ledger` (issue 20) as its own process beside `paynode service` and `paynode executor`:
every SUCCESSFUL payment posted once as a double-entry transfer into its merchant's wallet, every
SUCCESSFUL refund once out of it, the books balanced and every balance equal to the sum of its
entries, also while the ledger is SIGKILLed again and again; redelivered and reordered
payment-events records post nothing more; the offline `paynode ledger verify` agrees."""
import collections
import concurrent.futures
import json
import random
import signal
import subprocess
import time
import urllib.error
import urllib.request

from confluent_kafka import Producer

from conftest import PAYNODE
from test_payment_service import Api, read_all, wait_for
from test_pipeline_e2e import TOKENS, Executor
from test_refunds import refund
from test_webhooks import start as start_service


class Ledger:
    def __init__(self, data_dir, bootstrap, extra_args=()):
        self.data_dir, self.bootstrap, self.extra_args = data_dir, bootstrap, list(extra_args)
        self.log = open(data_dir + "-ledger.log", "a")
        self.process = None
        self.port = None

    def start(self):
        self.process = subprocess.Popen([PAYNODE, "ledger", "--data-dir", self.data_dir, "--bootstrap-servers", self.bootstrap,
                                         "--http-listen", "127.0.0.1:0", "--log-level", "warning", *self.extra_args],
                                        stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.process.stdout.readline()
        assert "paynode ledger ready" in line, line
        self.port = int(line.split("http=")[1].split()[0])
        return self

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)

    def get(self, path, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers), timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def balances(self):
        return {account["account"]: account for account in self.get("/v1/accounts")[1]["accounts"]}


def check_ledger(ledger, api, order_ids, timeout=120):
    """The ledger's invariants after a run: every SUCCESSFUL payment and refund posted exactly
    once (each wallet and clearing account's balance is the sum of what succeeded, with two
    entries per transfer), nothing held, and the ledger's own verification (chain, Σ debits = Σ
    credits, balances = sums of entries) passes."""
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        views = list(pool.map(lambda order_id: api.call("GET", f"/v1/payment-orders/{order_id}")[2], order_ids))
    expected, transfers = collections.Counter(), 0
    for view in views:
        if view["status"] != "SUCCESSFUL":
            continue
        refunded = sum(r["amount"] for r in view.get("refunds", []) if r["status"] == "SUCCESSFUL")
        transfers += 1 + sum(1 for r in view.get("refunds", []) if r["status"] == "SUCCESSFUL")
        expected[f"merchant:{view['currency']}:{view['merchantId']}"] += view["amount"] - refunded
        expected[f"psp:{view['currency']}:{view['psp']}"] += view["amount"] - refunded
    assert transfers > 0

    def caught_up():
        balances = ledger.balances()
        return balances if {name: account["balance"] for name, account in balances.items()} == dict(expected) else None
    balances = wait_for(caught_up, timeout, "the ledger to post every success exactly once")
    assert sum(a["entries"] for a in balances.values()) == 2 * transfers
    assert all(a["held"] == 0 for a in balances.values())
    status, verification = ledger.get("/v1/ledger/verify")
    assert status == 200 and verification["ok"] and verification["entries"] == transfers, verification


def create(api, key, token, merchant, amount, psp):
    status, _, body = api.call("POST", "/v1/payment-orders", {"merchantId": merchant, "amount": amount, "currency": "EUR",
                                                              "paymentMethod": token, "psp": psp},
                               {"Idempotency-Key": key, "Content-Type": "application/json"})
    assert status == 201, body
    return body["paymentOrderId"]


def test_the_ledger_posts_every_success_and_refund_once_across_kills(data_dir):
    rng = random.Random(20261206)
    service = start_service(data_dir)
    executor = Executor(data_dir + "-executor", service.bootstrap).start()
    ledger = Ledger(data_dir + "-ledger", service.bootstrap).start()
    api = Api(service.http_port)
    try:
        tokens = list(TOKENS)
        specs = [(f"ledger-{i}", tokens[i % len(tokens)], f"m_{i % 3}", 100 + i, "stripe" if i % 2 else "adyen") for i in range(300)]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            orders = list(pool.map(lambda spec: (create(api, *spec), spec), specs))
            # The ledger is killed and restarted while the results and events stream in.
            for _ in range(4):
                time.sleep(rng.uniform(0.2, 0.6))
                ledger.kill()
                ledger.start()

        def settled():
            views = [api.call("GET", f"/v1/payment-orders/{order_id}")[2] for order_id, _ in orders]
            return views if all(view["status"] != "PENDING" for view in views) else None
        views = {view["paymentOrderId"]: view for view in wait_for(settled, 120, "every order to settle")}
        # A refund of part of every third successful order (both PSPs), the ledger killed again meanwhile.
        refunds = {}
        for index, (order_id, spec) in enumerate(orders):
            if views[order_id]["status"] == "SUCCESSFUL" and index % 3 == 0:
                status, _, body = refund(api, order_id, f"ledger-refund-{index}", {"amount": spec[3] // 2})
                assert status == 201, body
                refunds[order_id] = spec[3] // 2
            if index == len(orders) // 2:
                ledger.kill()
                ledger.start()
        wait_for(lambda: all(r["status"] == "SUCCESSFUL" for order_id in refunds
                             for r in api.call("GET", f"/v1/payment-orders/{order_id}")[2]["refunds"]), 60, "every refund to settle")

        expected = collections.Counter()
        for order_id, (_, _, merchant, amount, psp) in orders:
            if views[order_id]["status"] == "SUCCESSFUL":
                expected[f"merchant:EUR:{merchant}"] += amount - refunds.get(order_id, 0)
                expected[f"psp:EUR:{psp}"] += amount - refunds.get(order_id, 0)
        assert len(refunds) > 10 and any(v["status"] == "FAILED" for v in views.values())

        def caught_up():
            balances = ledger.balances()
            return balances if {name: account["balance"] for name, account in balances.items()} == dict(expected) else None
        balances = wait_for(caught_up, 60, "the ledger to post every success and refund")
        successes = sum(1 for v in views.values() if v["status"] == "SUCCESSFUL")
        assert sum(a["entries"] for a in balances.values()) == 2 * (successes + len(refunds))
        assert all(a["held"] == 0 for a in balances.values())
        status, verification = ledger.get("/v1/ledger/verify")
        assert status == 200 and verification["ok"] and verification["entries"] == successes + len(refunds), verification
        assert verification["totals"] == {"EUR": sum(v for k, v in expected.items() if k.startswith("psp:")) + 2 * sum(refunds.values())}

        # An account's entries, newest first, each naming the event it came from.
        status, page = ledger.get("/v1/accounts/merchant:EUR:m_0/transactions?limit=5")
        assert status == 200 and len(page["entries"]) == 5 and page["nextCursor"] is not None
        sequences = [entry["sequence"] for entry in page["entries"]]
        assert sequences == sorted(sequences, reverse=True)
        assert all(entry["source"]["topic"] == "payment-events" for entry in page["entries"])
        assert ledger.get("/v1/accounts/merchant:EUR:nobody")[0] == 404
        assert ledger.get("/v1/accounts/wallet:x")[0] == 400

        # Redelivered and reordered payment-events records: nothing more is posted.
        events = [m for m in read_all(service.bootstrap, "payment-events")
                  if dict(m.headers())["paynode-schema"] in (b"paynode.events.v1.PaymentSucceeded", b"paynode.events.v1.PaymentRefunded")]
        producer = Producer({"bootstrap.servers": service.bootstrap})
        for message in reversed(events[:40]):
            producer.produce("payment-events", key=message.key(), value=message.value(), headers=message.headers(),
                             partition=message.partition())
        assert producer.flush(30) == 0
        time.sleep(3)
        assert {name: account["balance"] for name, account in ledger.balances().items()} == dict(expected)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{ledger.port}/metrics", timeout=10).read().decode()
        duplicates = [line for line in metrics.splitlines() if line.startswith('paynode_ledger_transfers_total{outcome="duplicate"}')]
        assert duplicates and float(duplicates[0].split()[-1]) >= 40, duplicates
        assert ledger.get("/v1/ledger/verify")[1]["ok"]
        clearing = {psp: account_entries(ledger, f"psp:EUR:{psp}") for psp in ("stripe", "adyen")}
        ledger.stop()
        verified = subprocess.run([PAYNODE, "ledger", "verify", "--data-dir", data_dir + "-ledger"], capture_output=True, text=True, timeout=60)
        assert verified.returncode == 0 and verified.stdout.startswith("ledger OK"), verified.stdout + verified.stderr
        # Event sourcing: the ledger recomputed from payment-events offset 0 equals the live one.
        rebuilt = subprocess.run([PAYNODE, "ledger", "rebuild", "--data-dir", data_dir + "-ledger", "--bootstrap-servers", service.bootstrap,
                                  "--into", data_dir + "-ledger-rebuilt"], capture_output=True, text=True, timeout=120)
        assert rebuilt.returncode == 0 and rebuilt.stdout.startswith("rebuild matches the live ledger"), rebuilt.stdout + rebuilt.stderr
        # Settlement reconciliation: each PSP's report built from what it settled, with planted differences.
        reconcile_planted_differences(data_dir, clearing)
    finally:
        ledger.stop()
        executor.stop()
        service.stop()


def account_entries(ledger, account):
    entries, cursor = [], None
    while True:
        status, page = ledger.get(f"/v1/accounts/{account}/transactions?limit=200" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200, page
        entries += page["entries"]
        cursor = page["nextCursor"]
        if cursor is None:
            return entries


def reconcile(data_dir, name, csv_text):
    path = f"{data_dir}-{name}.csv"
    with open(path, "w") as report:
        report.write(csv_text)
    result = subprocess.run([PAYNODE, "reconcile", "--settlement", path, "--data-dir", data_dir + "-ledger",
                             "--report", path + ".json", "--metrics-file", path + ".prom"], capture_output=True, text=True, timeout=60)
    with open(path + ".json") as report, open(path + ".prom") as metrics:
        return result, json.load(report), metrics.read()


def reconcile_planted_differences(data_dir, clearing):
    # Stripe: the itemized balance report (amounts in major units, refunds negative); one settled
    # payment left out, one the ledger never saw, one settled for a cent more, and a fee row.
    stripe = sorted(clearing["stripe"], key=lambda entry: entry["sequence"])
    payments = [entry for entry in stripe if entry["kind"] == "payment"]
    assert len(payments) > 3 and any(entry["kind"] == "refund" for entry in stripe)
    left_out, raised = payments[0], payments[1]
    rows = ["balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,payment_intent_id,description"]
    for index, entry in enumerate(stripe):
        if entry is left_out:
            continue
        amount = entry["amount"] + (1 if entry is raised else 0)
        if entry["kind"] == "payment":
            rows.append(f"txn_{index},2026-12-05 10:00:00,eur,{amount / 100:.2f},-0.30,{amount / 100 - 0.3:.2f},charge,ch_{index},{entry['pspReference']},")
        else:
            rows.append(f"txn_{index},2026-12-05 10:00:00,eur,-{amount / 100:.2f},0.00,-{amount / 100:.2f},refund,{entry['pspReference']},,\"refund, partial\"")
    rows.append("txn_x,2026-12-05 11:00:00,eur,7.00,-0.30,6.70,charge,ch_x,pi_never_in_the_ledger,")
    rows.append("txn_fee,2026-12-05 12:00:00,eur,-2.00,0.00,-2.00,fee,,,Stripe fee")
    result, report, metrics = reconcile(data_dir, "stripe-settlement", "\n".join(rows) + "\n")
    assert result.returncode == 1, result.stdout + result.stderr
    assert report["matched"] == len(stripe) - 2
    assert [line["reference"] for line in report["missingAtPSP"]] == [left_out["pspReference"]]
    assert report["missingAtPSP"][0]["paymentOrderId"] == left_out["paymentOrderId"]
    assert [line["reference"] for line in report["missingInLedger"]] == ["pi_never_in_the_ledger"]
    assert [(line["reference"], line["ledgerAmount"], line["settledAmount"]) for line in report["amountMismatches"]] == \
        [(raised["pspReference"], raised["amount"], raised["amount"] + 1)]
    assert report["skipped"] == {"fee": 1}
    assert 'paynode_reconciliation_items{psp="stripe",outcome="missing_in_ledger"} 1' in metrics
    # Adyen: the Settlement details report, everything settled as booked: clean, exit 0.
    rows = ["Company Account,Merchant Account,Psp Reference,Merchant Reference,Payment Method,Creation Date,TimeZone,Type,"
            "Modification Reference,Gross Currency,Gross Debit (GC),Gross Credit (GC),Exchange Rate,Net Currency,Net Debit (NC),Net Credit (NC)"]
    for entry in clearing["adyen"]:
        amount = f"{entry['amount'] / 100:.2f}"
        if entry["kind"] == "payment":
            rows.append(f"Co,M,{entry['pspReference']},{entry['paymentOrderId']},visa,2026-12-05 10:00:00,UTC,Settled,{entry['pspReference']},EUR,,{amount},1,EUR,,{amount}")
        else:
            rows.append(f"Co,M,P0,{entry['paymentOrderId']},visa,2026-12-05 10:00:00,UTC,Refunded,{entry['pspReference']},EUR,{amount},,1,EUR,{amount},")
    rows.append("Co,M,,,,2026-12-05 10:00:00,UTC,MerchantPayout,,EUR,100.00,,1,EUR,100.00,")
    result, report, metrics = reconcile(data_dir, "adyen-settlement", "\n".join(rows) + "\n")
    assert result.returncode == 0 and report["matched"] == len(clearing["adyen"]), result.stdout + result.stderr
    assert report["skipped"] == {"MerchantPayout": 1}


def test_the_query_api_takes_a_token_when_given_one(data_dir):
    service = start_service(data_dir)
    token_file = data_dir + "-ledger-token"
    with open(token_file, "w") as handle:
        handle.write("ledger-token-0123456789\n")
    ledger = Ledger(data_dir + "-ledger", service.bootstrap, ["--api-token-file", token_file]).start()
    try:
        assert ledger.get("/v1/accounts")[0] == 401
        assert ledger.get("/v1/accounts", token="wrong-token-0123456789")[0] == 401
        status, body = ledger.get("/v1/accounts", token="ledger-token-0123456789")
        assert status == 200 and body == {"accounts": []}
        # Health and metrics stay open for probes and scrapers.
        assert urllib.request.urlopen(f"http://127.0.0.1:{ledger.port}/healthz", timeout=10).status == 200
    finally:
        ledger.stop()
        service.stop()
