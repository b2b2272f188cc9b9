import Foundation
import Payments
import Testing

/// What verified webhook bodies report (psp-edge.md sections 1 and 2), without any I/O.
@Suite struct WebhookResultsTests {
    static func stripe(_ type: String, object: String, created: String = "1700000000") -> [UInt8] {
        Array(#"{"id":"evt_9","type":"\#(type)","created":\#(created),"data":{"object":\#(object)}}"#.utf8)
    }

    static let intent = #"{"id":"pi_9","object":"payment_intent","metadata":{"payment_order_id":"01a20a1d-1df5-7000-82b1-4b8a7559036f"}"#

    @Test func stripePaymentIntentEventsMapToResults() {
        guard case .results(let succeeded) = StripeWebhookEvent.interpret(Self.stripe("payment_intent.succeeded", object: Self.intent + "}"),
                                                                          nowMilliseconds: 5) else {
            Issue.record("not a result"); return
        }
        #expect(succeeded == [ReportedPspResult(paymentOrderId: "01a20a1d-1df5-7000-82b1-4b8a7559036f", status: .successful,
                                                pspReference: "pi_9", eventTimeMilliseconds: 1_700_000_000_000, psp: "stripe",
                                                pspEventId: "evt_9")])
        let failedBody = Self.stripe("payment_intent.payment_failed", object: Self.intent
            + #","last_payment_error":{"code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}"#)
        guard case .results(let failed) = StripeWebhookEvent.interpret(failedBody, nowMilliseconds: 5) else {
            Issue.record("not a result"); return
        }
        #expect(failed.first?.status == .failed && failed.first?.errorCode == "insufficient_funds")
        #expect(failed.first?.errorMessage == "Your card has insufficient funds.")
        guard case .results(let processing) = StripeWebhookEvent.interpret(Self.stripe("payment_intent.processing", object: Self.intent + "}"),
                                                                           nowMilliseconds: 5),
              case .results(let canceled) = StripeWebhookEvent.interpret(
                Self.stripe("payment_intent.canceled", object: Self.intent + #","cancellation_reason":"abandoned"}"#), nowMilliseconds: 5) else {
            Issue.record("not a result"); return
        }
        #expect(processing.first?.status == .pending)
        #expect(canceled.first?.status == .failed && canceled.first?.errorCode == "canceled" && canceled.first?.errorMessage == "canceled: abandoned")
    }

    @Test func otherStripeEventsAreIgnoredAndBrokenOnesNamed() {
        #expect(StripeWebhookEvent.interpret(Self.stripe("charge.refunded", object: "{}"), nowMilliseconds: 0) == .ignored("charge.refunded"))
        #expect(StripeWebhookEvent.interpret(Self.stripe("charge.succeeded", object: "{}"), nowMilliseconds: 0) == .ignored("charge.succeeded"))
        #expect(StripeWebhookEvent.interpret(Self.stripe("payment_intent.created", object: Self.intent + "}"), nowMilliseconds: 0)
                == .ignored("payment_intent.created"))
        for body in ["[]", "{}", #"{"id":"evt_1","type":"payment_intent.succeeded"}"#, "not json"] {
            guard case .malformed = StripeWebhookEvent.interpret(Array(body.utf8), nowMilliseconds: 0) else {
                Issue.record("\(body) was not malformed"); continue
            }
        }
        // No metadata: a result with no order id (the consumer dead-letters it); a nonsense
        // `created` takes the receiving time instead of trapping.
        guard case .results(let orphan) = StripeWebhookEvent.interpret(
            Self.stripe("payment_intent.succeeded", object: #"{"id":"pi_x"}"#, created: "9223372036854775807"), nowMilliseconds: 42) else {
            Issue.record("not a result"); return
        }
        #expect(orphan.first?.paymentOrderId == "" && orphan.first?.eventTimeMilliseconds == 42)
    }

    @Test func stripeRefundEventsMapToRefundResultsAndForeignRefundsAreIgnored() {
        let order = "01a20a1d-1df5-7000-82b1-4b8a7559036f"
        func refund(_ status: String, extra: String = "") -> String {
            #"{"id":"re_5","object":"refund","status":"\#(status)","payment_intent":"pi_9"\#(extra),"metadata":{"refund_id":"\#(order)-r1","payment_order_id":"\#(order)"}}"#
        }
        guard case .results(let succeeded) = StripeWebhookEvent.interpret(Self.stripe("refund.updated", object: refund("succeeded")), nowMilliseconds: 5),
              case .results(let failed) = StripeWebhookEvent.interpret(
                Self.stripe("refund.failed", object: refund("failed", extra: #","failure_reason":"lost_or_stolen_card""#)), nowMilliseconds: 5),
              case .results(let pending) = StripeWebhookEvent.interpret(Self.stripe("refund.created", object: refund("pending")), nowMilliseconds: 5) else {
            Issue.record("not results"); return
        }
        #expect(succeeded == [ReportedPspResult(paymentOrderId: order, status: .successful, pspReference: "re_5", eventTimeMilliseconds: 1_700_000_000_000,
                                                psp: "stripe", pspEventId: "evt_9", refundId: "\(order)-r1")])
        #expect(failed.first?.status == .failed && failed.first?.errorCode == "lost_or_stolen_card" && failed.first?.refundId == "\(order)-r1")
        #expect(pending.first?.status == .pending)
        #expect(StripeWebhookEvent.interpret(Self.stripe("refund.updated", object: #"{"id":"re_6","status":"succeeded"}"#), nowMilliseconds: 0)
                == .ignored("refund.updated of a refund paynode did not make"))
    }

    @Test func adyenRefundItemsSettleTheRefundTheyName() throws {
        let order = "01a20a1d-1df5-7000-82b1-4b8a7559036f"
        let refunded = #"{"amount":{"currency":"EUR","value":300},"eventCode":"REFUND","merchantAccountCode":"Shop","merchantReference":"\#(order)-r2","originalReference":"P1","pspReference":"RF2","success":"true"}"#
        let refused = #"{"amount":{"currency":"EUR","value":300},"eventCode":"REFUND","merchantAccountCode":"Shop","merchantReference":"\#(order)-r3","originalReference":"P1","pspReference":"RF3","reason":"Insufficient balance","success":"false"}"#
        let items = try AdyenNotification.parse(Self.adyen([refunded, refused])).get()
        guard case .results(let results) = AdyenNotification.interpret(items, nowMilliseconds: 7) else {
            Issue.record("not results"); return
        }
        #expect(results.map(\.status) == [.successful, .failed] && results.map(\.refundId) == ["\(order)-r2", "\(order)-r3"])
        #expect(results.allSatisfy { $0.paymentOrderId == order } && results[0].pspReference == "RF2")
        #expect(results[1].errorCode == "refund_failed" && results[1].errorMessage == "Insufficient balance")
    }

    static func adyen(_ items: [String]) -> [UInt8] {
        Array(#"{"live":"false","notificationItems":[\#(items.map { #"{"NotificationRequestItem":\#($0)}"# }.joined(separator: ","))]}"#.utf8)
    }

    static let authorised = #"{"additionalData":{"hmacSignature":"sig"},"amount":{"currency":"EUR","value":1000},"eventCode":"AUTHORISATION","eventDate":"2026-12-01T10:00:00+01:00","merchantAccountCode":"Shop","merchantReference":"01a20a1d-1df5-7000-82b1-4b8a7559036f","pspReference":"QFQTPCQ8HXSKGK82","success":"true"}"#

    @Test func adyenItemsAreParsedWithTheSignedFieldsAndInterpreted() throws {
        let refused = #"{"amount":{"currency":"EUR","value":1000},"eventCode":"AUTHORISATION","merchantAccountCode":"Shop","merchantReference":"o2","pspReference":"P2","reason":"Refused","success":"false"}"#
        let capture = #"{"amount":{"currency":"EUR","value":1000},"eventCode":"CAPTURE","merchantAccountCode":"Shop","merchantReference":"o3","originalReference":"P1","pspReference":"P3","success":"true"}"#
        let items = try AdyenNotification.parse(Self.adyen([Self.authorised, refused, capture])).get()
        #expect(items.count == 3)
        #expect(items[0].item.signingString == "QFQTPCQ8HXSKGK82::Shop:01a20a1d-1df5-7000-82b1-4b8a7559036f:1000:EUR:AUTHORISATION:true")
        #expect(items[0].signature == "sig" && items[1].signature == nil)
        #expect(items[2].item.originalReference == "P1")
        #expect(items[0].eventTimeMilliseconds == 1_796_115_600_000)
        guard case .results(let results) = AdyenNotification.interpret(items, nowMilliseconds: 7) else {
            Issue.record("not results"); return
        }
        #expect(results.map(\.status) == [.successful, .failed])
        #expect(results[0].pspEventId == "QFQTPCQ8HXSKGK82:AUTHORISATION:true" && results[0].pspReference == "QFQTPCQ8HXSKGK82")
        #expect(results[1].errorCode == "refused" && results[1].errorMessage == "Refused" && results[1].eventTimeMilliseconds == 7)
        #expect(AdyenNotification.interpret([items[2]], nowMilliseconds: 0) == .ignored("CAPTURE"))
    }

    @Test func brokenAdyenBodiesAreRefusedWithAReason() {
        for body in ["{}", #"{"notificationItems":[]}"#, #"{"notificationItems":[{"x":1}]}"#, "[", #"{"notificationItems":"no"}"#] {
            guard case .failure(let error) = AdyenNotification.parse(Array(body.utf8)) else {
                Issue.record("\(body) parsed"); continue
            }
            #expect(!error.message.isEmpty)
        }
        let many = Self.adyen(Array(repeating: Self.authorised, count: 3))
        guard case .failure = AdyenNotification.parse(many, maximumItems: 2) else { Issue.record("too many items parsed"); return }
    }
}
