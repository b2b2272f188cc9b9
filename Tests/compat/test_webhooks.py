"""PSP webhooks on `paynode service` (issue 19 item 2): Stripe-Signature and Adyen HMAC checked
over what the PSP sends, verified results applied once through psp-result-updates, everything
unverifiable answered 400 and changing nothing. Signatures are made here with Python's hmac,
as the PSPs document them (an implementation independent of paynode's)."""
import base64
import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.request
import uuid

from conftest import Broker
from test_payment_service import Api, read_all, wait_for

STRIPE_SECRETS = ["whsec_current_5b2c", "whsec_previous_91aa"]
ADYEN_KEY = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00"


def post(port, path, body, headers):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def stripe_event(event_id, event_type, order_id, intent="pi_3Nweb", extra=None):
    intent_object = {"id": intent, "object": "payment_intent", "metadata": {"payment_order_id": order_id}, **(extra or {})}
    return json.dumps({"id": event_id, "object": "event", "type": event_type, "created": int(time.time()),
                       "data": {"object": intent_object}}).encode()


def stripe_signature(body, secret, timestamp=None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def adyen_item(order_id, psp_reference, event_code="AUTHORISATION", success="true", key=ADYEN_KEY, reason=None):
    item = {"amount": {"currency": "EUR", "value": 5000}, "eventCode": event_code, "eventDate": "2026-12-01T10:00:00+01:00",
            "merchantAccountCode": "PaynodeShop", "merchantReference": order_id, "pspReference": psp_reference,
            "originalReference": "", "success": success}
    if reason:
        item["reason"] = reason
    signed = ":".join([psp_reference, "", "PaynodeShop", order_id, "5000", "EUR", event_code, success])
    signature = base64.b64encode(hmac.new(bytes.fromhex(key), signed.encode(), hashlib.sha256).digest()).decode()
    item["additionalData"] = {"hmacSignature": signature}
    return {"NotificationRequestItem": item}


def start(data_dir):
    secrets = os.path.join(os.path.dirname(data_dir), "stripe-secrets")
    keys = os.path.join(os.path.dirname(data_dir), "adyen-keys")
    os.makedirs(os.path.dirname(secrets), exist_ok=True)
    with open(secrets, "w") as handle:
        handle.write("\n".join(STRIPE_SECRETS) + "\n")
    with open(keys, "w") as handle:
        handle.write(ADYEN_KEY + "\n")
    return Broker(data_dir, node="service", extra_args=["--stripe-webhook-secrets-file", secrets,
                                                         "--adyen-hmac-keys-file", keys]).start()


def status(api, order_id):
    return api.call("GET", f"/v1/payment-orders/{order_id}")[2]


def succeeded_events(node, order_id):
    return [m for m in read_all(node.bootstrap, "payment-events")
            if m.key().decode() == order_id and dict(m.headers())["paynode-schema"] == b"paynode.events.v1.PaymentSucceeded"]


def test_stripe_webhooks_are_verified_applied_once_and_refused_when_forged(data_dir):
    node = start(data_dir)
    try:
        api = Api(node.http_port)
        orders = {name: api.create(f"wh-{name}", token="tok_pending")[2]["paymentOrderId"] for name in ("paid", "declined", "untouched")}

        body = stripe_event("evt_paid_1", "payment_intent.succeeded", orders["paid"])
        signature = stripe_signature(body, STRIPE_SECRETS[0])
        # Delivered four times (Stripe delivers at least once): applied once.
        for _ in range(4):
            assert post(node.http_port, "/v1/webhooks/stripe", body, {"Stripe-Signature": signature}) == (200, '{"received":true}\n')
        paid = wait_for(lambda: (lambda o: o if o["status"] == "SUCCESSFUL" else None)(status(api, orders["paid"])), 30, "SUCCESSFUL")
        assert paid["pspReference"] == "pi_3Nweb"
        wait_for(lambda: len(paid_history := status(api, orders["paid"])["history"]) == 4 and paid_history, 30, "four deliveries recorded")
        assert [entry["outcome"] for entry in status(api, orders["paid"])["history"]] == ["applied", "duplicate", "duplicate", "duplicate"]
        assert len(succeeded_events(node, orders["paid"])) == 1

        # The previous secret still verifies during rotation; a decline becomes FAILED with its code.
        declined = stripe_event("evt_declined_1", "payment_intent.payment_failed", orders["declined"], intent="pi_3Ndecl",
                                extra={"last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds",
                                                              "message": "Your card has insufficient funds."}})
        assert post(node.http_port, "/v1/webhooks/stripe", declined,
                    {"Stripe-Signature": stripe_signature(declined, STRIPE_SECRETS[1])})[0] == 200
        failed = wait_for(lambda: (lambda o: o if o["status"] == "FAILED" else None)(status(api, orders["declined"])), 30, "FAILED")
        assert failed["history"][0]["errorCode"] == "insufficient_funds"

        # Forged, stale, tampered, unsigned: 400 with a JSON error, and the order is untouched.
        forged = stripe_event("evt_forged", "payment_intent.succeeded", orders["untouched"])
        refusals = [
            (forged, {"Stripe-Signature": stripe_signature(forged, "whsec_attacker")}),
            (forged, {"Stripe-Signature": stripe_signature(forged, STRIPE_SECRETS[0], timestamp=int(time.time()) - 301)}),
            (forged, {"Stripe-Signature": stripe_signature(body, STRIPE_SECRETS[0])}),
            (forged.replace(b"pi_3Nweb", b"pi_3Nevil"), {"Stripe-Signature": stripe_signature(forged, STRIPE_SECRETS[0])}),
            (forged, {}),
        ]
        for payload, headers in refusals:
            code, text = post(node.http_port, "/v1/webhooks/stripe", payload, headers)
            assert code == 400 and json.loads(text)["error"]["code"] == "invalid_signature", (code, text)
        time.sleep(1)
        assert status(api, orders["untouched"])["status"] == "PENDING"
        assert status(api, orders["untouched"])["history"] == []

        # An event paynode does not act on is acknowledged; one for an order this node does not
        # know is acknowledged and dead-lettered with the reason.
        other = json.dumps({"id": "evt_charge", "type": "charge.refunded", "created": 1, "data": {"object": {}}}).encode()
        assert post(node.http_port, "/v1/webhooks/stripe", other, {"Stripe-Signature": stripe_signature(other, STRIPE_SECRETS[0])})[0] == 200
        stranger = str(uuid.UUID(int=0x01a20a1d1df5700082b14b8a7559036f))
        unknown = stripe_event("evt_unknown", "payment_intent.succeeded", stranger)
        assert post(node.http_port, "/v1/webhooks/stripe", unknown, {"Stripe-Signature": stripe_signature(unknown, STRIPE_SECRETS[0])})[0] == 200

        def dead_letter():
            for message in read_all(node.bootstrap, "psp-result-updates.dlq"):
                headers = dict(message.headers())
                if message.key() == stranger.encode():
                    return headers
            return None
        headers = wait_for(dead_letter, 30, "the unknown order's dead letter")
        assert b"unknown payment order" in headers["paynode-dlq-reason"]
    finally:
        node.stop()
    log = node.log()
    assert STRIPE_SECRETS[0] not in log and STRIPE_SECRETS[1] not in log


def test_adyen_notifications_are_verified_per_item_and_answered_accepted(data_dir):
    node = start(data_dir)
    try:
        api = Api(node.http_port)
        authorised = api.create("adyen-ok", token="tok_pending")[2]["paymentOrderId"]
        refused = api.create("adyen-refused", token="tok_pending")[2]["paymentOrderId"]
        body = json.dumps({"live": "false", "notificationItems": [
            adyen_item(authorised, "QFQTPCQ8HXSKGK82"),
            adyen_item(refused, "QFQTPCQ8HXSKGK83", success="false", reason="Refused"),
            adyen_item(authorised, "QFQTPCQ8HXSKGK84", event_code="CAPTURE"),
        ]}).encode()
        assert post(node.http_port, "/v1/webhooks/adyen", body, {}) == (200, "[accepted]")
        wait_for(lambda: status(api, authorised)["status"] == "SUCCESSFUL", 30, "Authorised")
        failed = wait_for(lambda: (lambda o: o if o["status"] == "FAILED" else None)(status(api, refused)), 30, "Refused")
        assert failed["history"][0]["errorCode"] == "refused" and failed["pspReference"] == "QFQTPCQ8HXSKGK83"
        # Redelivered: nothing more happens.
        assert post(node.http_port, "/v1/webhooks/adyen", body, {}) == (200, "[accepted]")
        wait_for(lambda: len(status(api, authorised)["history"]) == 2, 30, "the redelivery recorded")
        assert [entry["outcome"] for entry in status(api, authorised)["history"]] == ["applied", "duplicate"]

        # One item signed with another key refuses the whole notification.
        untouched = api.create("adyen-forged", token="tok_pending")[2]["paymentOrderId"]
        forged = json.dumps({"live": "false", "notificationItems": [
            adyen_item(untouched, "QFQTPCQ8HXSKGK90"),
            adyen_item(untouched, "QFQTPCQ8HXSKGK91", key="00" * 32),
        ]}).encode()
        code, text = post(node.http_port, "/v1/webhooks/adyen", forged, {})
        assert code == 400 and json.loads(text)["error"]["code"] == "invalid_signature"
        code, text = post(node.http_port, "/v1/webhooks/adyen", b'{"live":"false"}', {})
        assert code == 400 and json.loads(text)["error"]["code"] == "invalid_body"
        time.sleep(1)
        assert status(api, untouched)["status"] == "PENDING"
    finally:
        node.stop()


def test_webhook_routes_exist_only_when_configured(data_dir):
    node = Broker(data_dir, node="service").start()
    try:
        body = stripe_event("evt_1", "payment_intent.succeeded", "x")
        assert post(node.http_port, "/v1/webhooks/stripe", body, {"Stripe-Signature": stripe_signature(body, "whsec_x")})[0] == 404
    finally:
        node.stop()
