import Foundation
import Payments
import PSPAdapters
import Testing

/// Refund requests and answers for Stripe and Adyen, without a network (psp-edge.md section 5).
@Suite struct RefundAPITests {
    static let refund = PspRefund(refundID: RefundID(paymentOrderID: StripeAPITests.order, number: 2)!, amountMinor: 700, currency: "EUR",
                                  paymentPspReference: "pi_42")

    @Test func stripeRefundsNameTheIntentTheAmountAndTheRefundInMetadata() {
        #expect(StripeAPI.refundForm(Self.refund, intent: "pi_42")
                == "payment_intent=pi_42&amount=700&metadata%5Brefund_id%5D=01a20a1d-1df5-7000-82b1-4b8a7559036f-r2&metadata%5Bpayment_order_id%5D=01a20a1d-1df5-7000-82b1-4b8a7559036f")
        #expect(StripeAPI.refundRetrievePath("re_1/../x") == "/v1/refunds/re_1%2F%2E%2E%2Fx")
        #expect(StripeAPI.refundListPath(intent: "pi_42") == "/v1/refunds?payment_intent=pi_42&limit=100")
    }

    @Test func stripeRefundStatusesMap() {
        #expect(StripeAPI.refundResult(of: .init(id: "re_1", status: "succeeded")) == PspCallResult(status: .successful, pspReference: "re_1"))
        #expect(StripeAPI.refundResult(of: .init(id: "re_1", status: "failed", failureReason: "expired_or_canceled_card")).errorCode
                == "expired_or_canceled_card")
        #expect(StripeAPI.refundResult(of: .init(id: "re_1", status: "canceled")).status == .failed)
        for waiting in ["pending", "requires_action", "something_new"] {
            #expect(StripeAPI.refundResult(of: .init(id: "re_1", status: waiting))
                    == PspCallResult(status: .pending, pspReference: "re_1", retryAfterMilliseconds: StripeAPI.refundPendingRetryMilliseconds))
        }
    }

    @Test func stripeRefundAnswersAreARefundAListOrAnError() {
        let created = Array(#"{"id":"re_9","object":"refund","status":"succeeded","metadata":{"refund_id":"x-r1"}}"#.utf8)
        #expect(StripeAPI.refundAnswer(status: 200, body: created, shouldRetry: nil, retryAfter: nil)
                == .refund(.init(id: "re_9", status: "succeeded", refundId: "x-r1")))
        let list = Array(#"{"object":"list","data":[{"id":"re_1","status":"pending","metadata":{"refund_id":"a-r1"}},{"id":"re_2","status":"succeeded","metadata":{"refund_id":"a-r2"}}]}"#.utf8)
        #expect(StripeAPI.refundAnswer(status: 200, body: list, shouldRetry: nil, retryAfter: nil, refundId: "a-r2")
                == .listed(.init(id: "re_2", status: "succeeded", refundId: "a-r2")))
        #expect(StripeAPI.refundAnswer(status: 200, body: list, shouldRetry: nil, retryAfter: nil, refundId: "a-r3") == .listed(nil))
        let refused = Array(#"{"error":{"code":"charge_already_refunded","message":"Charge has already been refunded."}}"#.utf8)
        #expect(StripeAPI.refundAnswer(status: 400, body: refused, shouldRetry: nil, retryAfter: nil)
                == .other(.refused(code: "charge_already_refunded", message: "HTTP 400 charge_already_refunded: Charge has already been refunded.")))
        guard case .other(.transient) = StripeAPI.refundAnswer(status: 200, body: Array("{}".utf8), shouldRetry: nil, retryAfter: nil),
              case .other(.transient) = StripeAPI.refundAnswer(status: 503, body: [], shouldRetry: nil, retryAfter: nil) else {
            Issue.record("not retried"); return
        }
    }

    @Test func adyenRefundsAreReceivedAndWaitForTheirWebhook() throws {
        #expect(AdyenAPI.refundPath(paymentPspReference: "PSP/1") == "/v71/payments/PSP%2F1/refunds")
        let body = try #require(try JSONSerialization.jsonObject(with: Data(AdyenAPI.refundBody(Self.refund, merchantAccount: "Shop"))) as? [String: Any])
        #expect(body["reference"] as? String == "01a20a1d-1df5-7000-82b1-4b8a7559036f-r2" && body["merchantAccount"] as? String == "Shop")
        #expect((body["amount"] as? [String: Any])?["value"] as? Int == 700)
        let received = Array(#"{"pspReference":"RF1","paymentPspReference":"P1","status":"received","reference":"x"}"#.utf8)
        #expect(AdyenAPI.refundAnswer(status: 201, body: received, retryAfter: nil)
                == .result(PspCallResult(status: .pending, pspReference: "RF1", retryAfterMilliseconds: AdyenAPI.refundPendingRetryMilliseconds)))
        let invalid = Array(#"{"status":422,"errorCode":"167","message":"Original pspReference required for this operation"}"#.utf8)
        #expect(AdyenAPI.refundAnswer(status: 422, body: invalid, retryAfter: nil).failedCode == "adyen_167")
        guard case .transient = AdyenAPI.refundAnswer(status: 201, body: Array("{}".utf8), retryAfter: nil) else {
            Issue.record("not retried"); return
        }
    }

    @Test func theSimulatorRefundsAPaymentItNamedAndAnswersTheSameEveryTime() async throws {
        let psp = SimulatedPSP(name: "stripe")
        let first = try await psp.refund(Self.refund, journal: .none)
        #expect(first.status == .successful && first.pspReference?.hasPrefix("re_") == true && first.pspReference?.hasSuffix("_2") == true)
        #expect(try await psp.retrieveRefund(Self.refund, pspReference: first.pspReference) == first)
        var unnamed = Self.refund
        unnamed.paymentPspReference = nil
        #expect(try await psp.refund(unnamed, journal: .none) == PspRefund.noPaymentReference)
    }
}

extension AdyenAPI.Answer {
    var failedCode: String? {
        if case .result(let result) = self, result.status == .failed { return result.errorCode }
        return nil
    }
}
