"""The real PSP adapters (issue 19 item 1) with `paynode service` and `paynode executor` as
separate processes: Stripe against localstripe (a stateful Stripe fake from PyPI, which also
signs and sends its webhooks to the service), and what localstripe lacks (idempotency replay,
409, 429 with Retry-After, Stripe-Should-Retry, 500 then success, insufficient funds, a payment
left processing) plus Adyen Checkout against fakes of this file, written to the PSPs' documented
behaviour."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest

from conftest import Broker
from test_payment_service import Api, read_all, wait_for
from test_pipeline_e2e import Executor
from test_webhooks import ADYEN_KEY, STRIPE_SECRETS, adyen_item, post, start as start_service, stripe_signature


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write(path, text):
    with open(path, "w") as handle:
        handle.write(text + "\n")
    return path


def final(api, order_id, timeout=60):
    def settled():
        order = api.call("GET", f"/v1/payment-orders/{order_id}")[2]
        return order if order["status"] != "PENDING" else None
    return wait_for(settled, timeout, f"order {order_id} to settle")


def terminal_events(node, order_id):
    return [m for m in read_all(node.bootstrap, "payment-events") if m.key().decode() == order_id
            and dict(m.headers())["paynode-schema"] in (b"paynode.events.v1.PaymentSucceeded", b"paynode.events.v1.PaymentFailed")]


@pytest.fixture
def localstripe():
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "localstripe.server", "--port", str(port), "--from-scratch"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(urllib.request.Request(url + "/v1/customers", headers={"Authorization": "Bearer sk_test_x"}), timeout=2)
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        raise AssertionError("localstripe did not start")
    yield url
    process.kill()
    process.wait()


def create(api, key, payment_method, psp="stripe"):
    status, _, body = api.call("POST", "/v1/payment-orders", {"merchantId": "m_psp", "amount": 5000, "currency": "EUR",
                                                              "paymentMethod": payment_method, "psp": psp},
                               {"Idempotency-Key": key, "Content-Type": "application/json"})
    assert status == 201, body
    return body["paymentOrderId"]


def test_stripe_through_localstripe_with_its_signed_webhooks(data_dir, localstripe):
    service = start_service(data_dir)
    key_file = write(os.path.join(os.path.dirname(data_dir), "stripe-key"), "sk_test_paynode")
    # localstripe signs its webhooks with the service's current secret and posts them there.
    request = urllib.request.Request(localstripe + "/_config/webhooks/paynode", method="POST", data=json.dumps({
        "url": f"http://127.0.0.1:{service.http_port}/v1/webhooks/stripe", "secret": STRIPE_SECRETS[0],
        "events": ["payment_intent.succeeded", "payment_intent.payment_failed"]}).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk_test_paynode"})
    urllib.request.urlopen(request, timeout=10)
    executor = Executor(data_dir + "-executor", service.bootstrap,
                        ["--stripe-api-url", localstripe, "--stripe-api-key-file", key_file]).start()
    try:
        api = Api(service.http_port)
        paid = create(api, "ls-visa", "pm_card_visa")
        declined = create(api, "ls-declined", "pm_card_chargeCustomerFail")
        unknown = create(api, "ls-unknown", "pm_no_such_method")
        assert final(api, paid)["status"] == "SUCCESSFUL"
        assert final(api, paid)["pspReference"].startswith("pi_")
        failed = final(api, declined)
        assert failed["status"] == "FAILED" and failed["history"][0]["errorCode"] == "card_declined"
        assert failed["pspReference"].startswith("pi_")
        # Stripe refused the create (404 No such PaymentMethod): nothing was charged.
        refused = final(api, unknown)
        assert refused["status"] == "FAILED" and refused.get("pspReference") is None
        # localstripe's own webhooks arrive and verify: the same outcome reported twice, applied once.
        for order in (paid, declined):
            history = wait_for(lambda: (lambda h: h if len(h) >= 2 else None)(api.call("GET", f"/v1/payment-orders/{order}")[2]["history"]),
                               30, "localstripe's webhook")
            assert [entry["outcome"] for entry in history] == ["applied", "duplicate"], history
            assert len(terminal_events(service, order)) == 1
    finally:
        executor.stop()
        service.stop()
    assert "sk_test_paynode" not in open(data_dir + "-executor-executor.log").read()


class FakeStripe(BaseHTTPRequestHandler):
    """Stripe as its docs describe it, for what localstripe does not do. State is per server."""

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        state = self.server.state
        state["gets"] = state.get("gets", 0) + 1
        intent = state["intents"].get(self.path.rsplit("/", 1)[-1])
        if intent is None:
            return self.answer(404, {"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No such intent"}})
        method = intent["payment_method"]
        if method == "pm_fake_pending":
            intent["status"] = "processing"
        return self.answer(200, intent)

    def do_POST(self):
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        form = dict(parse_qsl(raw.decode()))
        if self.headers.get("Authorization") != "Bearer sk_test_fake":
            return self.answer(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}})
        key = self.headers.get("Idempotency-Key")
        with state["lock"]:
            if key in state["keys"]:
                stored_raw, status, body = state["keys"][key]
                if stored_raw != raw:
                    return self.answer(400, {"error": {"type": "idempotency_error", "message": "Keys for idempotent requests can only be used with the same parameters"}})
                return self.answer(status, body, [("Idempotent-Replayed", "true")])
            status, body, headers, remember = self.handle_post(form)
            if remember and key:
                state["keys"][key] = (raw, status, body)
        self.answer(status, body, headers)

    def handle_post(self, form):
        state = self.server.state
        if self.path == "/v1/payment_intents":
            method = form["payment_method"]
            state["calls"][("create", method)] = state["calls"].get(("create", method), 0) + 1
            if method == "pm_fake_429" and state["calls"][("create", method)] == 1:
                # The rate limiter runs before the idempotency layer: nothing is stored.
                return 429, {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}}, [("Retry-After", "1")], False
            intent_id = f"pi_fake{len(state['intents']) + 1}"
            intent = {"id": intent_id, "object": "payment_intent", "status": "requires_confirmation", "amount": int(form["amount"]),
                      "currency": form["currency"], "payment_method": method,
                      "metadata": {"payment_order_id": form.get("metadata[payment_order_id]")}}
            state["intents"][intent_id] = intent
            state["creates"].setdefault(intent["metadata"]["payment_order_id"], []).append(intent_id)
            return 200, dict(intent), [], True
        intent_id = self.path.split("/")[3]
        intent = state["intents"][intent_id]
        method = intent["payment_method"]
        count = state["calls"][("confirm", intent_id)] = state["calls"].get(("confirm", intent_id), 0) + 1
        if intent["status"] != "requires_confirmation":
            return 400, {"error": {"type": "invalid_request_error", "code": "payment_intent_unexpected_state",
                                   "message": f"This PaymentIntent's status is {intent['status']}"}}, [], False
        if method == "pm_fake_409" and count == 1:
            return 409, {"error": {"type": "idempotency_error", "message": "There is currently another in-progress request using this Stripe API key"}}, [], False
        if method == "pm_fake_500" and count == 1:
            # Indeterminate: Stripe may or may not have charged; the key makes the retry safe.
            return 500, {"error": {"type": "api_error", "message": "An unknown error occurred"}}, [("Stripe-Should-Retry", "true")], False
        if method == "pm_fake_noretry":
            intent["status"] = "succeeded"
            return 500, {"error": {"type": "api_error", "message": "state unknown"}}, [("Stripe-Should-Retry", "false")], False
        if method == "pm_fake_insufficient":
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = {"code": "card_declined", "decline_code": "insufficient_funds",
                                            "message": "Your card has insufficient funds."}
            return 402, {"error": {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
                                   "message": "Your card has insufficient funds.", "payment_intent": dict(intent)}}, [], True
        intent["status"] = "processing" if method == "pm_fake_pending" else "succeeded"
        return 200, dict(intent), [], True


class FakeAdyen(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        state = self.server.state
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw)
        if self.headers.get("X-API-Key") != "adyen_key_fake" or body.get("merchantAccount") != "PaynodeShop":
            return self.reply(401, {"status": 401, "errorCode": "000", "message": "HTTP Status Response - Unauthorized"})
        key = self.headers.get("Idempotency-Key")
        with state["lock"]:
            if key in state["keys"]:
                return self.reply(*state["keys"][key])
            if self.path.endswith("/refunds"):
                # /v71/payments/{paymentPspReference}/refunds: asynchronous, answered received.
                payment = self.path.split("/")[3]
                state["refunds"].setdefault(payment, []).append(body["reference"])
                answer = {"pspReference": f"RF{len(state['keys']) + 1:013d}", "paymentPspReference": payment, "status": "received",
                          "reference": body["reference"], "merchantAccount": body["merchantAccount"], "amount": body["amount"]}
                state["keys"][key] = (201, answer)
                return self.reply(201, answer)
            method = body["paymentMethod"]["storedPaymentMethodId"]
            reference = f"PSP{len(state['keys']) + 1:013d}"
            state["payments"].setdefault(body["reference"], []).append(reference)
            code = {"adyen_authorised": "Authorised", "adyen_refused": "Refused", "adyen_received": "Received"}[method]
            answer = {"pspReference": reference, "resultCode": code, "merchantReference": body["reference"]}
            if code == "Refused":
                answer["refusalReason"] = "Refused"
            state["keys"][key] = (200, answer)
        self.reply(200, answer)

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.state = {"lock": threading.Lock(), "keys": {}, "intents": {}, "calls": {}, "creates": {}, "payments": {}, "refunds": {}}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_stripe_and_adyen_behaviour_localstripe_lacks(data_dir):
    stripe, adyen = serve(FakeStripe), serve(FakeAdyen)
    base = os.path.dirname(data_dir)
    service = start_service(data_dir)
    executor = Executor(data_dir + "-executor", service.bootstrap, [
        "--stripe-api-url", f"http://127.0.0.1:{stripe.server_address[1]}", "--stripe-api-key-file", write(base + "/sk", "sk_test_fake"),
        "--adyen-api-url", f"http://127.0.0.1:{adyen.server_address[1]}", "--adyen-api-key-file", write(base + "/ak", "adyen_key_fake"),
        "--adyen-merchant-account", "PaynodeShop"]).start()
    try:
        api = Api(service.http_port)
        expected = {"pm_fake_visa": ("SUCCESSFUL", None), "pm_fake_409": ("SUCCESSFUL", None), "pm_fake_429": ("SUCCESSFUL", None),
                    "pm_fake_500": ("SUCCESSFUL", None), "pm_fake_noretry": ("SUCCESSFUL", None),
                    "pm_fake_insufficient": ("FAILED", "insufficient_funds")}
        orders = {method: create(api, f"fake-{method}", method) for method in expected}
        pending = create(api, "fake-pending", "pm_fake_pending")
        for method, (status, code) in expected.items():
            order = final(api, orders[method])
            assert order["status"] == status, (method, order)
            assert order["pspReference"].startswith("pi_fake"), (method, order)
            if code:
                assert order["history"][-1]["errorCode"] == code
        # One PaymentIntent per order, however often a call was repeated: no second charge.
        assert all(len(intents) == 1 for intents in stripe.state["creates"].values()), stripe.state["creates"]
        assert stripe.state["calls"][("create", "pm_fake_429")] == 2

        # Left processing: PENDING with its reference until Stripe's webhook says succeeded.
        wait_for(lambda: api.call("GET", f"/v1/payment-orders/{pending}")[2]["history"], 30, "the PENDING result")
        order = api.call("GET", f"/v1/payment-orders/{pending}")[2]
        intent = order["history"][0]["pspReference"]
        assert order["status"] == "PENDING" and intent.startswith("pi_fake")
        body = json.dumps({"id": "evt_fake_pending", "type": "payment_intent.succeeded", "created": int(time.time()),
                           "data": {"object": {"id": intent, "object": "payment_intent", "status": "succeeded",
                                               "metadata": {"payment_order_id": pending}}}}).encode()
        assert post(service.http_port, "/v1/webhooks/stripe", body, {"Stripe-Signature": stripe_signature(body, STRIPE_SECRETS[0])})[0] == 200
        assert final(api, pending)["status"] == "SUCCESSFUL"
        assert len(terminal_events(service, pending)) == 1

        # Adyen: Authorised and Refused at once; Received waits for the AUTHORISATION webhook.
        authorised = create(api, "ad-ok", "adyen_authorised", psp="adyen")
        refused = create(api, "ad-refused", "adyen_refused", psp="adyen")
        received = create(api, "ad-received", "adyen_received", psp="adyen")
        assert final(api, authorised)["status"] == "SUCCESSFUL"
        no = final(api, refused)
        assert no["status"] == "FAILED" and no["history"][0]["errorCode"] == "refused"
        wait_for(lambda: api.call("GET", f"/v1/payment-orders/{received}")[2]["history"], 30, "the Received result")
        reference = api.call("GET", f"/v1/payment-orders/{received}")[2]["history"][0]["pspReference"]
        assert reference.startswith("PSP")
        notification = json.dumps({"live": "false", "notificationItems": [adyen_item(received, reference)]}).encode()
        assert post(service.http_port, "/v1/webhooks/adyen", notification, {}) == (200, "[accepted]")
        assert final(api, received)["status"] == "SUCCESSFUL"
        assert all(len(references) == 1 for references in adyen.state["payments"].values()), adyen.state["payments"]
    finally:
        executor.stop()
        service.stop()
        stripe.shutdown()
        adyen.shutdown()


def test_reconciliation_follows_up_on_a_growing_schedule_and_gives_up_visibly(data_dir):
    """A payment Stripe leaves processing is asked about at growing intervals and, past the
    give-up age, flagged needs_attention while it stays PENDING (never guessed SUCCESSFUL); a
    PSP that never answered the create makes the order FAILED psp_unreachable (nothing was
    charged). Short schedule flags so the test takes seconds."""
    stripe = serve(FakeStripe)
    closed = free_port()
    base = os.path.dirname(data_dir)
    service = start_service(data_dir)
    schedule = ["--pending-prompt-seconds", "0", "--reconcile-first-seconds", "1", "--reconcile-max-seconds", "2",
                "--reconcile-give-up-seconds", "7"]
    executor = Executor(data_dir + "-executor", service.bootstrap, [
        "--stripe-api-url", f"http://127.0.0.1:{stripe.server_address[1]}", "--stripe-api-key-file", write(base + "/sk", "sk_test_fake"),
        "--adyen-api-url", f"http://127.0.0.1:{closed}", "--adyen-api-key-file", write(base + "/ak", "adyen_key_fake"),
        "--adyen-merchant-account", "PaynodeShop", "--psp-timeout-seconds", "2", *schedule]).start()
    try:
        api = Api(service.http_port)
        stuck = create(api, "stuck", "pm_fake_pending")
        unreachable = create(api, "unreachable", "adyen_authorised", psp="adyen")
        failed = final(api, unreachable, timeout=90)
        assert failed["status"] == "FAILED" and failed["history"][-1]["errorCode"] == "psp_unreachable"

        def flagged():
            history = api.call("GET", f"/v1/payment-orders/{stuck}")[2]["history"]
            return history if history and history[-1].get("errorCode") == "needs_attention" else None
        history = wait_for(flagged, 60, "reconciliation to give up")
        order = api.call("GET", f"/v1/payment-orders/{stuck}")[2]
        assert order["status"] == "PENDING"
        flagged_orders = api.call("GET", "/v1/payment-orders?needsAttention=true")[2]["orders"]
        assert [listed["paymentOrderId"] for listed in flagged_orders] == [stuck]
        assert [entry["outcome"] for entry in history].count("conflict") == 0
        assert all(entry["pspStatus"] == "PENDING" for entry in history)
        # Follow-ups 1 s, 2 s, 2 s, ...: a handful of reads, not one every 2 s of a busy loop.
        reads = len([entry for entry in history if entry.get("errorCode") != "needs_attention"])
        assert 3 <= reads <= 8, history
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{executor_http_port(executor)}/metrics", timeout=10).read().decode()
        assert 'paynode_psp_followups_given_up_total{psp="stripe"} 1' in metrics, metrics
    finally:
        executor.stop()
        service.stop()
        stripe.shutdown()


def executor_http_port(executor):
    return int(executor.ready_line.split("http=")[1].split()[0])


def test_an_unverifiable_stripe_webhook_makes_the_service_ask_stripe_not_trust_it(data_dir):
    """Its body is never applied; the PaymentIntent it names is looked up with Stripe (our key
    authenticates the answer) and Stripe's answer is the result, for the order Stripe's own
    metadata names. A flood of forged webhooks for one intent asks Stripe once."""
    stripe = serve(FakeStripe)
    key = write(os.path.dirname(data_dir) + "/sk", "sk_test_fake")
    secrets = write(os.path.dirname(data_dir) + "/stripe-secrets", STRIPE_SECRETS[0])
    service = Broker(data_dir, node="service", extra_args=[
        "--stripe-webhook-secrets-file", secrets, "--stripe-api-url", f"http://127.0.0.1:{stripe.server_address[1]}",
        "--stripe-api-key-file", key]).start()
    try:
        api = Api(service.http_port)
        paid = create(api, "sq-paid", "tok_pending")
        victim = create(api, "sq-victim", "tok_pending")
        stripe.state["intents"]["pi_fakeseeded"] = {"id": "pi_fakeseeded", "object": "payment_intent", "status": "succeeded",
                                                    "payment_method": "pm_fake_visa", "metadata": {"payment_order_id": paid}}
        # Forged: claims the intent belongs to the victim and failed; signed with a wrong secret.
        forged = json.dumps({"id": "evt_forged", "type": "payment_intent.payment_failed", "created": int(time.time()),
                             "data": {"object": {"id": "pi_fakeseeded", "object": "payment_intent", "status": "requires_payment_method",
                                                 "metadata": {"payment_order_id": victim}}}}).encode()
        for _ in range(5):
            code, _ = post(service.http_port, "/v1/webhooks/stripe", forged, {"Stripe-Signature": stripe_signature(forged, "whsec_forger")})
            assert code == 400
        order = final(api, paid, timeout=30)
        assert order["status"] == "SUCCESSFUL" and order["pspReference"] == "pi_fakeseeded"
        trail = api.call("GET", f"/v1/payment-orders/{paid}/audit")[2]["entries"]
        assert [entry.get("producer") for entry in trail] == ["Webhook:stripe"]
        time.sleep(1)
        assert api.call("GET", f"/v1/payment-orders/{victim}")[2]["status"] == "PENDING"
        assert stripe.state["gets"] == 1
    finally:
        service.stop()
        stripe.shutdown()
