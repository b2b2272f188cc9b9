import Foundation
import Payments
import PSPAdapters
import Testing

/// What paynode sends Stripe and makes of its answers, without a network (psp-edge.md section 2).
@Suite struct StripeAPITests {
    static let order = PaymentOrderID("01a20a1d-1df5-7000-82b1-4b8a7559036f")!

    static func json(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func theCreateFormIsFormEncodedWithTheOrderInMetadata() {
        let form = StripeAPI.createForm(order: Self.order, amountMinor: 5000, currency: "EUR", paymentMethod: "pm_card visa&x")
        #expect(form == "amount=5000&currency=eur&payment_method=pm_card%20visa%26x&metadata%5Bpayment_order_id%5D=01a20a1d-1df5-7000-82b1-4b8a7559036f")
        #expect(StripeAPI.confirmPath("pi_123") == "/v1/payment_intents/pi_123/confirm")
        #expect(StripeAPI.retrievePath("pi_../x") == "/v1/payment_intents/pi_%2E%2E%2Fx")
        #expect(StripeAPI.confirmIdempotencyKey(Self.order) == "01a20a1d-1df5-7000-82b1-4b8a7559036f:confirm")
    }

    @Test func intentStatusesMapAsThePaymentStands() {
        func state(_ status: String, error: (code: String?, decline: String?)? = nil, cancel: String? = nil) -> StripeAPI.IntentState {
            StripeAPI.state(of: .init(id: "pi_1", status: status, declineCode: error?.decline, errorCode: error?.code,
                                      errorMessage: error == nil ? nil : "declined", cancellationReason: cancel))
        }
        #expect(state("succeeded") == .result(PspCallResult(status: .successful, pspReference: "pi_1")))
        #expect(state("processing") == .result(PspCallResult(status: .pending, pspReference: "pi_1",
                                                             retryAfterMilliseconds: StripeAPI.processingRetryMilliseconds)))
        #expect(state("requires_payment_method", error: ("card_declined", "insufficient_funds"))
                == .result(PspCallResult(status: .failed, pspReference: "pi_1", errorCode: "insufficient_funds", errorMessage: "declined")))
        #expect(state("requires_payment_method", error: ("card_declined", nil))
                == .result(PspCallResult(status: .failed, pspReference: "pi_1", errorCode: "card_declined", errorMessage: "declined")))
        #expect(state("requires_payment_method") == .needsConfirmation)
        #expect(state("requires_confirmation") == .needsConfirmation)
        guard case .result(let action) = state("requires_action"), case .result(let canceled) = state("canceled", cancel: "abandoned") else {
            Issue.record("no result"); return
        }
        #expect(action.status == .failed && action.errorCode == "authentication_required")
        #expect(canceled.status == .failed && canceled.errorCode == "canceled" && canceled.errorMessage == "canceled: abandoned")
    }

    @Test func answersAreReadAsStripeDocumentsThem() {
        let intent = Self.json(#"{"id":"pi_9","object":"payment_intent","status":"requires_confirmation"}"#)
        #expect(StripeAPI.answer(status: 200, body: intent, shouldRetry: nil, retryAfter: nil) == .intent(.init(id: "pi_9", status: "requires_confirmation")))
        // A declined card: 402 with the intent when Stripe sends it, else the error's codes.
        let declinedWithIntent = Self.json(#"{"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline","message":"Your card was declined.","payment_intent":{"id":"pi_9","status":"requires_payment_method","last_payment_error":{"code":"card_declined","decline_code":"generic_decline","message":"Your card was declined."}}}}"#)
        guard case .intent(let declined) = StripeAPI.answer(status: 402, body: declinedWithIntent, shouldRetry: nil, retryAfter: nil) else {
            Issue.record("no intent"); return
        }
        #expect(StripeAPI.state(of: declined) == .result(PspCallResult(status: .failed, pspReference: "pi_9", errorCode: "generic_decline",
                                                                       errorMessage: "Your card was declined.")))
        let bare = Self.json(#"{"error":{"type":"card_error","code":"card_declined","message":"Your card was declined.","charge":"ch_1"}}"#)
        #expect(StripeAPI.answer(status: 402, body: bare, shouldRetry: nil, retryAfter: nil)
                == .result(PspCallResult(status: .failed, errorCode: "card_declined", errorMessage: "Your card was declined.")))
        // Retried: 409 (a concurrent request with the key), 429 with Retry-After, 5xx.
        let conflict = Self.json(#"{"error":{"type":"idempotency_error","message":"in progress"}}"#)
        #expect(StripeAPI.answer(status: 409, body: conflict, shouldRetry: nil, retryAfter: nil)
                == .transient(message: "HTTP 409: in progress", retryAfterMilliseconds: nil))
        #expect(StripeAPI.answer(status: 429, body: [], shouldRetry: nil, retryAfter: "2")
                == .transient(message: "HTTP 429: no message", retryAfterMilliseconds: 2000))
        guard case .transient = StripeAPI.answer(status: 503, body: [], shouldRetry: nil, retryAfter: nil) else { Issue.record("503"); return }
        // Stripe-Should-Retry overrides: true retries a 400, false on a 500 reads the state.
        guard case .transient = StripeAPI.answer(status: 400, body: [], shouldRetry: "true", retryAfter: nil),
              case .readState = StripeAPI.answer(status: 500, body: [], shouldRetry: "false", retryAfter: nil) else {
            Issue.record("Stripe-Should-Retry was not honoured"); return
        }
        // Already confirmed: read the state; a refused request names Stripe's code.
        let unexpected = Self.json(#"{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"already succeeded"}}"#)
        guard case .readState = StripeAPI.answer(status: 400, body: unexpected, shouldRetry: nil, retryAfter: nil) else {
            Issue.record("unexpected state"); return
        }
        let missing = Self.json(#"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such PaymentMethod: 'pm_x'"}}"#)
        #expect(StripeAPI.answer(status: 400, body: missing, shouldRetry: nil, retryAfter: nil)
                == .refused(code: "resource_missing", message: "HTTP 400 resource_missing: No such PaymentMethod: 'pm_x'"))
        // A key problem is retried, not a decline; a 200 that is not an intent is retried.
        guard case .transient = StripeAPI.answer(status: 401, body: [], shouldRetry: nil, retryAfter: nil),
              case .transient = StripeAPI.answer(status: 200, body: Self.json("[]"), shouldRetry: nil, retryAfter: nil) else {
            Issue.record("401 or a bad 200"); return
        }
    }

    /// Only a plausible PaymentIntent id is taken from an unverified body, as a hint.
    @Test func anUnverifiedBodyYieldsOnlyAnIntentIdHint() {
        func hint(_ body: String) -> String? { StripeAPI.intentHint(inEventBody: Array(body.utf8)) }
        #expect(hint(#"{"data":{"object":{"id":"pi_3Nabc","status":"succeeded"}}}"#) == "pi_3Nabc")
        #expect(hint(#"{"data":{"object":{"id":"ch_1"}}}"#) == nil)
        #expect(hint(#"{"data":{"object":{"id":"pi_../../v1/refunds"}}}"#) == nil)
        #expect(hint(#"{"data":{"object":{"id":"pi_\#(String(repeating: "a", count: 300))"}}}"#) == nil)
        #expect(hint("not json") == nil)
        #expect(hint("{}") == nil)
    }

    @Test func retryAfterIsBoundedSeconds() {
        #expect(StripeAPI.retryAfterMilliseconds("1.5") == 1500)
        #expect(StripeAPI.retryAfterMilliseconds(" 0 ") == 0)
        #expect(StripeAPI.retryAfterMilliseconds("-1") == nil)
        #expect(StripeAPI.retryAfterMilliseconds("3601") == nil)
        #expect(StripeAPI.retryAfterMilliseconds("Wed, 21 Oct 2015 07:28:00 GMT") == nil)
        #expect(StripeAPI.retryAfterMilliseconds("nan") == nil)
    }
}

@Suite struct AdyenAPITests {
    @Test func thePaymentBodyCarriesTheOrderAsReference() throws {
        let body = AdyenAPI.paymentBody(order: StripeAPITests.order, amountMinor: 1000, currency: "eur", paymentMethod: "8415", merchantAccount: "Shop")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        #expect(object["reference"] as? String == "01a20a1d-1df5-7000-82b1-4b8a7559036f")
        #expect(object["merchantAccount"] as? String == "Shop")
        #expect((object["amount"] as? [String: Any])?["value"] as? Int == 1000 && (object["amount"] as? [String: Any])?["currency"] as? String == "EUR")
        #expect((object["paymentMethod"] as? [String: Any])?["storedPaymentMethodId"] as? String == "8415")
    }

    @Test func resultCodesMapAsTheWebhookWould() {
        #expect(AdyenAPI.result(resultCode: "Authorised", pspReference: "P1", refusalReason: nil) == PspCallResult(status: .successful, pspReference: "P1"))
        #expect(AdyenAPI.result(resultCode: "Refused", pspReference: "P1", refusalReason: "Refused")
                == PspCallResult(status: .failed, pspReference: "P1", errorCode: "refused", errorMessage: "Refused"))
        #expect(AdyenAPI.result(resultCode: "Received", pspReference: "P1", refusalReason: nil)
                == PspCallResult(status: .pending, pspReference: "P1", retryAfterMilliseconds: AdyenAPI.pendingRetryMilliseconds))
        #expect(AdyenAPI.result(resultCode: "Pending", pspReference: nil, refusalReason: nil).status == .pending)
        #expect(AdyenAPI.result(resultCode: "RedirectShopper", pspReference: "P1", refusalReason: nil).errorCode == "authentication_required")
        #expect(AdyenAPI.result(resultCode: "Error", pspReference: "P1", refusalReason: "x").errorCode == "error")
        #expect(AdyenAPI.result(resultCode: "Cancelled", pspReference: "P1", refusalReason: nil).errorCode == "cancelled")
    }

    @Test func answersAreReadByStatus() {
        let authorised = Array(#"{"pspReference":"P1","resultCode":"Authorised"}"#.utf8)
        #expect(AdyenAPI.answer(status: 200, body: authorised, retryAfter: nil) == .result(PspCallResult(status: .successful, pspReference: "P1")))
        let invalid = Array(#"{"status":422,"errorCode":"101","message":"Invalid card number","errorType":"validation"}"#.utf8)
        #expect(AdyenAPI.answer(status: 422, body: invalid, retryAfter: nil)
                == .result(PspCallResult(status: .failed, errorCode: "adyen_101", errorMessage: "Invalid card number")))
        #expect(AdyenAPI.answer(status: 429, body: [], retryAfter: "3") == .transient(message: "HTTP 429: no message", retryAfterMilliseconds: 3000))
        guard case .transient = AdyenAPI.answer(status: 500, body: [], retryAfter: nil),
              case .transient = AdyenAPI.answer(status: 401, body: [], retryAfter: nil),
              case .transient = AdyenAPI.answer(status: 200, body: Array("{}".utf8), retryAfter: nil) else {
            Issue.record("not retried"); return
        }
    }
}
