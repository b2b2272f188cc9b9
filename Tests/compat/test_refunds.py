"""Refunds (issue 19 item 4) with `paynode service` and `paynode executor` as separate processes:
`POST /v1/payment-orders/{id}/refunds` checked against what is left to refund, the executor's
refund call to the simulator, to Stripe (localstripe) and to Adyen (this suite's fake, whose
REFUND webhook settles it), the result through psp-result-updates, the refund on the order and
`PaymentRefunded` on payment-events exactly once, also across an executor SIGKILL."""
import json
import os
import time
import urllib.request

from test_payment_service import Api, read_all, wait_for
from test_pipeline_e2e import Executor
from test_psp_adapters import FakeAdyen, create, final, localstripe, serve, write  # noqa: F401 (fixture)
from test_webhooks import ADYEN_KEY, STRIPE_SECRETS, post, start as start_service, stripe_signature

import base64
import hashlib
import hmac


def refund(api, order_id, key, body=None):
    return api.call("POST", f"/v1/payment-orders/{order_id}/refunds", body if body is not None else b"",
                    {"Idempotency-Key": key, "Content-Type": "application/json"})


def settled_refunds(api, order_id, count, timeout=60):
    def settled():
        order = api.call("GET", f"/v1/payment-orders/{order_id}")[2]
        refunds = order.get("refunds", [])
        return order if len(refunds) >= count and all(r["status"] != "PENDING" for r in refunds) else None
    return wait_for(settled, timeout, f"{count} refunds of {order_id} to settle")


def refunded_events(node, order_id):
    return [m for m in read_all(node.bootstrap, "payment-events")
            if m.key().decode() == order_id and dict(m.headers())["paynode-schema"] == b"paynode.events.v1.PaymentRefunded"]


def test_refunds_through_the_simulator_are_bounded_idempotent_and_survive_an_executor_kill(data_dir):
    service = start_service(data_dir)
    executor = Executor(data_dir + "-executor", service.bootstrap).start()
    try:
        api = Api(service.http_port)
        paid = create(api, "rf-paid", "tok_visa")
        declined = create(api, "rf-declined", "tok_chargeDeclined")
        assert final(api, paid)["status"] == "SUCCESSFUL"
        assert final(api, declined)["status"] == "FAILED"

        status, _, body = refund(api, declined, "no", {"amount": 100})
        assert status == 409 and body["error"]["code"] == "order_not_refundable", body
        status, _, body = refund(api, "01a20a1d-1df5-7000-82b1-4b8a7559036f", "no", {"amount": 100})
        assert status == 404, body
        status, _, body = refund(api, paid, "bad", {"amount": -1})
        assert status == 400 and body["error"]["code"] == "invalid_amount", body
        status, _, body = api.call("POST", f"/v1/payment-orders/{paid}/refunds", {"amount": 1}, {"Content-Type": "application/json"})
        assert status == 400 and body["error"]["code"] == "idempotency_key_missing", body

        # The executor is killed while the first refund is in flight; it resumes after the restart.
        status, _, first = refund(api, paid, "rf-1", {"amount": 2000, "reason": "requested_by_customer"})
        assert status == 201 and first["status"] == "PENDING" and first["refundId"] == f"{paid}-r1", first
        executor.kill()
        status, headers, again = refund(api, paid, "rf-1", {"amount": 2000, "reason": "requested_by_customer"})
        assert status == 201 and headers.get("Idempotent-Replayed") == "true" and again["refundId"] == first["refundId"]
        status, _, body = refund(api, paid, "rf-1", {"amount": 2500})
        assert status == 422 and body["error"]["code"] == "idempotency_key_reused", body
        status, _, body = refund(api, paid, "rf-2", {"amount": 3001})
        assert status == 422 and body["error"]["code"] == "refund_exceeds_refundable", body
        executor.start()
        status, _, rest = refund(api, paid, "rf-3")  # no amount: everything left
        assert status == 201 and rest["amount"] == 3000, rest

        order = settled_refunds(api, paid, 2)
        assert [r["status"] for r in order["refunds"]] == ["SUCCESSFUL", "SUCCESSFUL"], order
        assert all(r["pspReference"].startswith("re_") for r in order["refunds"])
        assert order["status"] == "SUCCESSFUL" and order["refundedAmount"] == 5000 and order["refundableAmount"] == 0
        status, _, body = refund(api, paid, "rf-4", {"amount": 1})
        assert status == 422 and body["error"]["code"] == "refund_exceeds_refundable", body
        time.sleep(1)
        events = refunded_events(service, paid)
        assert len(events) == 2, events
        applied = [h for h in api.call("GET", f"/v1/payment-orders/{paid}")[2]["history"] if h["outcome"] == "applied"]
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{service.ops_port}/metrics", timeout=10).read().decode()
        for line in ('paynode_refunds_requested_total{outcome="created"} 2', 'paynode_refunds_requested_total{outcome="replayed"} 1',
                     'paynode_refunds_requested_total{outcome="refused"} 3'):
            assert line in metrics, metrics
        # The payment's own transition first; the two refunds in whichever order the executor finished them.
        assert applied[0].get("refundId") is None and sorted(h["refundId"] for h in applied[1:]) == [f"{paid}-r1", f"{paid}-r2"], applied
    finally:
        executor.stop()
        service.stop()


def test_stripe_refunds_through_localstripe_and_its_signed_refund_webhook(data_dir, localstripe):
    service = start_service(data_dir)
    key_file = write(os.path.join(os.path.dirname(data_dir), "stripe-key"), "sk_test_paynode")
    executor = Executor(data_dir + "-executor", service.bootstrap,
                        ["--stripe-api-url", localstripe, "--stripe-api-key-file", key_file]).start()
    try:
        api = Api(service.http_port)
        paid = create(api, "lsr-visa", "pm_card_visa")
        intent = final(api, paid)["pspReference"]
        status, _, created = refund(api, paid, "lsr-1", {"amount": 1200})
        assert status == 201, created
        order = settled_refunds(api, paid, 1)
        made = order["refunds"][0]
        assert made["status"] == "SUCCESSFUL" and made["pspReference"].startswith("re_"), order
        # Stripe holds exactly one refund of the intent, for the amount, naming paynode's refund.
        listing = json.load(urllib.request.urlopen(urllib.request.Request(
            f"{localstripe}/v1/refunds?payment_intent={intent}", headers={"Authorization": "Bearer sk_test_paynode"}), timeout=10))
        assert [(r["id"], r["amount"], r["metadata"].get("refund_id")) for r in listing["data"]] == [
            (made["pspReference"], 1200, created["refundId"])], listing
        # Stripe's refund.updated for the same refund, signed: the same outcome again, applied once.
        body = json.dumps({"id": "evt_refund_1", "type": "refund.updated", "created": int(time.time()),
                           "data": {"object": {"id": made["pspReference"], "object": "refund", "status": "succeeded",
                                               "payment_intent": intent,
                                               "metadata": {"refund_id": created["refundId"], "payment_order_id": paid}}}}).encode()
        for _ in range(3):
            code, _ = post(service.http_port, "/v1/webhooks/stripe", body, {"Stripe-Signature": stripe_signature(body, STRIPE_SECRETS[0])})
            assert code == 200
        wait_for(lambda: len([h for h in api.call("GET", f"/v1/payment-orders/{paid}")[2]["history"] if h.get("refundId")]) >= 4,
                 30, "the webhook's refund results")
        outcomes = [h["outcome"] for h in api.call("GET", f"/v1/payment-orders/{paid}")[2]["history"] if h.get("refundId")]
        assert outcomes == ["applied", "duplicate", "duplicate", "duplicate"], outcomes
        assert len(refunded_events(service, paid)) == 1
    finally:
        executor.stop()
        service.stop()


def adyen_refund_item(refund_id, psp_reference, original_reference, value, success="true", reason=None):
    item = {"amount": {"currency": "EUR", "value": value}, "eventCode": "REFUND", "eventDate": "2026-12-04T10:00:00+01:00",
            "merchantAccountCode": "PaynodeShop", "merchantReference": refund_id, "pspReference": psp_reference,
            "originalReference": original_reference, "success": success}
    if reason:
        item["reason"] = reason
    signed = ":".join([psp_reference, original_reference, "PaynodeShop", refund_id, str(value), "EUR", "REFUND", success])
    item["additionalData"] = {"hmacSignature": base64.b64encode(
        hmac.new(bytes.fromhex(ADYEN_KEY), signed.encode(), hashlib.sha256).digest()).decode()}
    return {"NotificationRequestItem": item}


def test_adyen_refunds_are_received_and_settled_by_their_refund_webhook(data_dir):
    adyen = serve(FakeAdyen)
    base = os.path.dirname(data_dir)
    service = start_service(data_dir)
    executor = Executor(data_dir + "-executor", service.bootstrap, [
        "--adyen-api-url", f"http://127.0.0.1:{adyen.server_address[1]}", "--adyen-api-key-file", write(base + "/ak", "adyen_key_fake"),
        "--adyen-merchant-account", "PaynodeShop"]).start()
    try:
        api = Api(service.http_port)
        paid = create(api, "adr-ok", "adyen_authorised", psp="adyen")
        payment_reference = final(api, paid)["pspReference"]
        ok = refund(api, paid, "adr-1", {"amount": 1000})[2]
        refused = refund(api, paid, "adr-2", {"amount": 500})[2]

        def received():
            refunds = api.call("GET", f"/v1/payment-orders/{paid}")[2]["refunds"]
            return refunds if all(r.get("pspReference") for r in refunds) else None
        refunds = wait_for(received, 30, "Adyen to receive both refunds")
        assert [r["status"] for r in refunds] == ["PENDING", "PENDING"], refunds
        assert adyen.state["refunds"] == {payment_reference: [ok["refundId"], refused["refundId"]]}, adyen.state["refunds"]
        notification = json.dumps({"live": "false", "notificationItems": [
            adyen_refund_item(ok["refundId"], refunds[0]["pspReference"], payment_reference, 1000),
            adyen_refund_item(refused["refundId"], refunds[1]["pspReference"], payment_reference, 500, success="false",
                              reason="Insufficient balance on payment")]}).encode()
        for _ in range(2):
            assert post(service.http_port, "/v1/webhooks/adyen", notification, {}) == (200, "[accepted]")
        order = settled_refunds(api, paid, 2)
        assert [r["status"] for r in order["refunds"]] == ["SUCCESSFUL", "FAILED"], order
        assert order["refunds"][1]["errorCode"] == "refund_failed"
        assert order["refundedAmount"] == 1000 and order["refundableAmount"] == 4000
        time.sleep(1)
        assert len(refunded_events(service, paid)) == 1
    finally:
        executor.stop()
        service.stop()
        adyen.shutdown()


def test_refunds_and_their_webhooks_survive_kills_and_apply_once(data_dir):
    """Two partial refunds per paid order, requested (and retried with their keys) while the
    service and the executor are SIGKILLed and restarted, and Stripe's refund.updated webhooks
    for half of them delivered meanwhile: afterwards every refund is SUCCESSFUL once, no order
    has a refund more than requested, each refund has one applied result and no conflict, and
    payment-events holds exactly one PaymentRefunded per refund."""
    import concurrent.futures
    import http.client
    import random
    import threading
    import urllib.error

    from test_pipeline_crash import kill_and_restart

    count = 150
    rng = random.Random(20261205)
    service = start_service(data_dir)
    executor = Executor(data_dir + "-executor", service.bootstrap).start()
    api = Api(service.http_port)
    try:
        paid = [create(api, f"rfcrash-{index}", "tok_visa") for index in range(count)]
        for order_id in paid:
            assert final(api, order_id)["status"] == "SUCCESSFUL"
        failures, refunds, done = [], {}, threading.Event()

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

        def request(job):
            order_id, number = job
            amount = 1000 * number
            time.sleep(0.12)  # spread over several kills of each node

            def attempt():
                status, _, body = refund(api, order_id, f"rfcrash-{order_id}-{number}", {"amount": amount})
                assert status in (201, 500, 503), (status, body)
                return body if status == 201 else None
            body = retrying(attempt)
            refunds[body["refundId"]] = (order_id, amount)
            if rng.random() < 0.5:
                # Stripe's own word on the simulated refund (its reference is deterministic).
                reference = "re_" + order_id.replace("-", "")[8:] + f"_{body['refundId'].rsplit('-r', 1)[1]}"
                event = json.dumps({"id": f"evt_{body['refundId']}", "type": "refund.updated", "created": int(time.time()),
                                    "data": {"object": {"id": reference, "object": "refund", "status": "succeeded",
                                                        "metadata": {"refund_id": body["refundId"], "payment_order_id": order_id}}}}).encode()
                retrying(lambda: True if post(service.http_port, "/v1/webhooks/stripe", event,
                                              {"Stripe-Signature": stripe_signature(event, STRIPE_SECRETS[0])})[0] == 200 else None)

        def load():
            try:
                jobs = [(order_id, number) for order_id in paid for number in (1, 2)]
                rng.shuffle(jobs)
                with concurrent.futures.ThreadPoolExecutor(6) as pool:
                    list(pool.map(request, jobs))
            except BaseException as error:  # the kill loop below must end whatever happens here
                failures.append(error)
            finally:
                done.set()

        loader = threading.Thread(target=load)
        loader.start()
        kills = {"service": 0, "executor": 0}
        while not done.is_set() or kills["service"] < 3:
            time.sleep(rng.uniform(0.3, 0.9))
            victim = "service" if kills["service"] <= kills["executor"] + 1 else "executor"
            kill_and_restart(service if victim == "service" else executor, rng)
            kills[victim] += 1
        loader.join(timeout=300)
        assert not failures, failures
        assert len(refunds) == 2 * count
        assert kills["service"] + kills["executor"] >= 6, kills

        def all_settled():
            views = {order_id: api.call("GET", f"/v1/payment-orders/{order_id}")[2] for order_id in paid}
            settled = all(len(v["refunds"]) == 2 and all(r["status"] == "SUCCESSFUL" for r in v["refunds"]) for v in views.values())
            return views if settled else None
        views = wait_for(all_settled, 180, "every refund to settle")
        problems = []
        for order_id, view in views.items():
            if view["refundedAmount"] != 3000 or view["status"] != "SUCCESSFUL":
                problems.append((order_id, view["refundedAmount"], view["status"]))
            for entry in view["refunds"]:
                outcomes = [h["outcome"] for h in view["history"] if h.get("refundId") == entry["refundId"]]
                if outcomes.count("applied") != 1 or "conflict" in outcomes:
                    problems.append((entry["refundId"], outcomes))
        assert not problems, f"{len(problems)} wrong, e.g. {problems[:5]}"
        per_refund = {}
        for message in read_all(service.bootstrap, "payment-events"):
            if dict(message.headers())["paynode-schema"] == b"paynode.events.v1.PaymentRefunded":
                per_refund[message.key().decode()] = per_refund.get(message.key().decode(), 0) + 1
        assert per_refund == {order_id: 2 for order_id in paid}, per_refund
    finally:
        executor.stop()
        service.stop()
