import Foundation
import LogStore
import PaymentEvents
import Payments
import Protocol
import Testing
@testable import PaymentService

@Suite("Refunds at the service: requests, results, events")
struct RefundTests {
    typealias Fixture = PaymentServiceTests.Fixture

    /// A SUCCESSFUL order of `amount` (its PSP reference pi_paid).
    static func paidOrder(_ fixture: Fixture, key: String, amount: Int = 5000) async throws -> String {
        let (_, id) = try await fixture.create(key, amount: amount)
        try await fixture.publish(id, .successful, reference: "pi_paid")
        _ = try await fixture.service.processResults(partition: 0)
        #expect(try fixture.order(id)["status"] as? String == "SUCCESSFUL")
        return id
    }

    static func refund(_ fixture: Fixture, _ order: String, body: String, key: String) async throws -> CreateRefundOutcome {
        try await fixture.service.createRefund(order: order, body: Array(body.utf8), idempotencyKey: key, traceparent: nil)
    }

    static func json(_ outcome: CreateRefundOutcome) throws -> [String: Any] {
        let text: String
        switch outcome {
        case .created(let refund), .replayed(let refund): text = refund
        default: Issue.record("not a refund: \(outcome)"); return [:]
        }
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// Produces a refund's result into psp-result-updates as the executor does (keyed by order).
    static func publishRefund(_ fixture: Fixture, order: String, refund: String, _ status: Paynode_Events_V1_PspStatus,
                              reference: String? = "re_1", error: String? = nil) async throws {
        var event = Paynode_Events_V1_PspRefundResultEvent()
        event.refundID = refund
        event.paymentOrderID = order
        event.pspStatus = status
        if let reference { event.pspReference = reference }
        if let error { event.errorCode = error }
        event.eventTimeUnixMs = 1_700_000_000_500
        event.psp = "stripe"
        let encoded = try EventEnvelope.encode(event)
        try await fixture.store.append(topic: PaymentTopics.pspResultUpdates, partition: 0,
                                       records: [Record(timestamp: -1, key: Array(order.utf8), value: encoded.value, headers: encoded.headers)])
    }

    @Test func aRefundIsStoredPendingWithItsRequestRecordAndTheKeyReplaysIt() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let order = try await Self.paidOrder(fixture, key: "refund-1")
        let created = try await Self.refund(fixture, order, body: #"{"amount":1500,"reason":"requested_by_customer"}"#, key: "r-key-1")
        let refund = try Self.json(created)
        #expect(refund["refundId"] as? String == "\(order)-r1" && refund["status"] as? String == "PENDING")
        #expect(refund["amount"] as? Int == 1500 && refund["currency"] as? String == "EUR" && refund["reason"] as? String == "requested_by_customer")

        // The executor's work: a RefundRequested on payment-orders, keyed by the order, with the payment's reference.
        let requests = try fixture.records(PaymentTopics.paymentOrders).filter {
            (try? EventEnvelope.schema(of: $0.headers).messageName) == Paynode_Events_V1_RefundRequested.protoMessageName
        }
        #expect(requests.count == 1)
        let request = try EventEnvelope.decode(Paynode_Events_V1_RefundRequested.self, value: requests[0].value, headers: requests[0].headers)
        #expect(request.refundID == "\(order)-r1" && request.paymentOrderID == order && request.amountMinor == 1500)
        #expect(request.paymentPspReference == "pi_paid" && request.psp == "stripe" && request.idempotencyKey == "r-key-1")
        #expect(requests[0].key == Array(order.utf8))

        // The same key and body: the same refund, nothing new; another body: refused.
        let again = try await Self.refund(fixture, order, body: #"{"amount":1500,"reason":"requested_by_customer"}"#, key: "r-key-1")
        guard case .replayed = again else { Issue.record("expected a replay, got \(again)"); return }
        #expect(try Self.json(again)["refundId"] as? String == "\(order)-r1")
        #expect(try await Self.refund(fixture, order, body: #"{"amount":1000}"#, key: "r-key-1") == .idempotencyKeyReused(key: "r-key-1"))
        let shown = try fixture.order(order)
        #expect((shown["refunds"] as? [[String: Any]])?.count == 1)
        #expect(shown["refundableAmount"] as? Int == 3500 && shown["refundedAmount"] as? Int == 0)
    }

    @Test func refundsNeverAddUpToMoreThanWasPaidAndAFailedOneGivesItsAmountBack() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let order = try await Self.paidOrder(fixture, key: "refund-2", amount: 1000)
        _ = try Self.json(try await Self.refund(fixture, order, body: #"{"amount":600}"#, key: "a"))
        // 600 pending holds its amount: 500 more would be 1100.
        #expect(try await Self.refund(fixture, order, body: #"{"amount":500}"#, key: "b")
                == .refused(.exceedsRefundable(requestedMinor: 500, refundableMinor: 400)))
        try await Self.publishRefund(fixture, order: order, refund: "\(order)-r1", .failed, error: "charge_disputed")
        _ = try await fixture.service.processResults(partition: 0)
        let failed = try #require((try fixture.order(order)["refunds"] as? [[String: Any]])?.first)
        #expect(failed["status"] as? String == "FAILED" && failed["errorCode"] as? String == "charge_disputed")
        // The failed 600 is refundable again; no amount: everything left.
        let whole = try Self.json(try await Self.refund(fixture, order, body: "", key: "c"))
        #expect(whole["amount"] as? Int == 1000 && whole["refundId"] as? String == "\(order)-r2")
        #expect(try await Self.refund(fixture, order, body: "", key: "d") == .refused(.exceedsRefundable(requestedMinor: 1, refundableMinor: 0)))
    }

    @Test func onlyASuccessfulOrderOfTheCallersMerchantIsRefundedAndBadRequestsAreRefused() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let (_, pending) = try await fixture.create("refund-3")
        #expect(try await Self.refund(fixture, pending, body: #"{"amount":1}"#, key: "k") == .refused(.orderNotSuccessful(.pending)))
        let order = try await Self.paidOrder(fixture, key: "refund-4")
        #expect(try await fixture.service.createRefund(order: order, body: [], idempotencyKey: "k", traceparent: nil, merchant: "m_other")
                == .notFound)
        #expect(try await Self.refund(fixture, "not-an-order", body: "", key: "k") == .notFound)
        for body in [#"{"amount":0}"#, #"{"amount":-5}"#, #"{"amount":"10"}"#, #"{"reason":""}"#, "[1]", "{"] {
            guard case .invalid = try await Self.refund(fixture, order, body: body, key: "k") else {
                Issue.record("\(body) was not refused as invalid")
                continue
            }
        }
        guard case .invalid(let missing) = try await fixture.service.createRefund(order: order, body: [], idempotencyKey: nil, traceparent: nil) else {
            Issue.record("a refund without an Idempotency-Key was accepted")
            return
        }
        #expect(missing.code == "idempotency_key_missing")
        #expect((try fixture.order(order)["refunds"] as? [[String: Any]])?.isEmpty == true)
    }

    @Test func aSuccessfulRefundResultEmitsPaymentRefundedOnceAndLeavesThePaymentAsItWas() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let order = try await Self.paidOrder(fixture, key: "refund-5")
        _ = try Self.json(try await Self.refund(fixture, order, body: #"{"amount":2000}"#, key: "one"))
        _ = try Self.json(try await Self.refund(fixture, order, body: #"{"amount":1000}"#, key: "two"))
        try await Self.publishRefund(fixture, order: order, refund: "\(order)-r1", .pending, reference: "re_a")
        try await Self.publishRefund(fixture, order: order, refund: "\(order)-r1", .successful, reference: "re_a")
        try await Self.publishRefund(fixture, order: order, refund: "\(order)-r1", .successful, reference: "re_a")
        try await Self.publishRefund(fixture, order: order, refund: "\(order)-r2", .successful, reference: "re_b")
        let summary = try await fixture.service.processResults(partition: 0)
        #expect(summary.outcomes[.applied] == 2 && summary.outcomes[.recorded] == 1 && summary.outcomes[.duplicate] == 1)

        let refunded = try fixture.records(PaymentTopics.paymentEvents).compactMap { record -> Paynode_Events_V1_PaymentRefunded? in
            guard (try? EventEnvelope.schema(of: record.headers).messageName) == Paynode_Events_V1_PaymentRefunded.protoMessageName else { return nil }
            return try EventEnvelope.decode(Paynode_Events_V1_PaymentRefunded.self, value: record.value, headers: record.headers)
        }
        #expect(refunded.map(\.refundID) == ["\(order)-r1", "\(order)-r2"])
        #expect(refunded.map(\.amountMinor) == [2000, 1000] && refunded.map(\.refundedTotalMinor) == [2000, 3000])
        #expect(refunded.allSatisfy { $0.paymentOrderID == order && $0.currency == "EUR" && $0.source.topic == PaymentTopics.pspResultUpdates })
        #expect(refunded.map(\.pspReference) == ["re_a", "re_b"])
        #expect(refunded.allSatisfy { $0.merchantID == "m_1" })
        let succeeded = try fixture.records(PaymentTopics.paymentEvents).compactMap { record in
            try? EventEnvelope.decode(Paynode_Events_V1_PaymentSucceeded.self, value: record.value, headers: record.headers)
        }
        #expect(succeeded.count == 1 && succeeded[0].merchantID == "m_1")

        let shown = try fixture.order(order)
        #expect(shown["status"] as? String == "SUCCESSFUL" && shown["pspReference"] as? String == "pi_paid")
        #expect(shown["refundedAmount"] as? Int == 3000 && shown["refundableAmount"] as? Int == 2000)
        let refunds = try #require(shown["refunds"] as? [[String: Any]])
        #expect(refunds.map { $0["status"] as? String } == ["SUCCESSFUL", "SUCCESSFUL"])
        // The refund's results are in the order's history, each naming its refund.
        let history = try #require(shown["history"] as? [[String: Any]])
        #expect(history.compactMap { $0["refundId"] as? String } == Array(repeating: "\(order)-r1", count: 3) + ["\(order)-r2"])
        #expect(history.first?["refundId"] == nil && history.first?["outcome"] as? String == "applied")
    }

    @Test func aRefundResultNamingNoKnownRefundOrAnotherOrderIsDeadLettered() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let order = try await Self.paidOrder(fixture, key: "refund-6")
        let (_, other) = try await fixture.create("refund-7")
        try await Self.publishRefund(fixture, order: order, refund: "\(order)-r9", .successful)
        try await Self.publishRefund(fixture, order: order, refund: "\(other)-r1", .successful)
        try await Self.publishRefund(fixture, order: order, refund: "r1", .successful)
        let summary = try await fixture.service.processResults(partition: 0)
        #expect(summary.deadLettered == 3)
        let reasons = try fixture.records(PaymentTopics.deadLetters).compactMap { record in
            record.headers.last { $0.key == DeadLetterHeaders.reason }?.value.map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(reasons.contains { $0.contains("unknown refund \(order)-r9") })
        #expect(reasons.filter { $0.contains("is not a refund of payment_order_id") }.count == 2)
    }

    /// A refund reconciliation gave up on (its last result `needs_attention`) lists its SUCCESSFUL
    /// order under `needsAttention=true` until the refund settles.
    @Test func aRefundReconciliationGaveUpOnFlagsItsOrderUntilItSettles() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let order = try await Self.paidOrder(fixture, key: "refund-8")
        _ = try Self.json(try await Self.refund(fixture, order, body: #"{"amount":100}"#, key: "stuck"))
        try await Self.publishRefund(fixture, order: order, refund: "\(order)-r1", .pending, reference: "re_s", error: AttentionIndex.code)
        _ = try await fixture.service.processResults(partition: 0)
        func flagged() throws -> [String] {
            let json = try fixture.service.listOrders(OrderListQuery.parse(status: nil, limit: nil, cursor: nil, needsAttention: "true"))
            let page = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            return (page["orders"] as? [[String: Any]] ?? []).compactMap { $0["paymentOrderId"] as? String }
        }
        #expect(try flagged() == [order])
        try await Self.publishRefund(fixture, order: order, refund: "\(order)-r1", .successful, reference: "re_s")
        _ = try await fixture.service.processResults(partition: 0)
        #expect(try flagged().isEmpty)
    }

    @Test func refundIDsParseOnlyTheirOwnSpelling() throws {
        let order = PaymentOrderID.make(unixMilliseconds: 1_700_000_000_000, sequence: 1, random: 42)
        let id = try #require(RefundID(paymentOrderID: order, number: 12))
        #expect(RefundID(id.description) == id && id.description == "\(order)-r12")
        for text in ["\(order)-r0", "\(order)-r012", "\(order)-r", "\(order)-x1", "\(order)-r100000", "\(order)-r1 ", "x\(order)-r1"] {
            #expect(RefundID(text) == nil, "\(text)")
        }
        #expect(RefundID(paymentOrderID: order, number: 0) == nil && RefundID(paymentOrderID: order, number: RefundID.maximumNumber) != nil)
    }

    @Test func theRulesHoldPendingRefundsAndRefuseWhatIsNotLeft() {
        let refunds = [RefundAmount(amountMinor: 300, status: .successful), RefundAmount(amountMinor: 200, status: .pending),
                       RefundAmount(amountMinor: 400, status: .failed)]
        #expect(RefundRules.refundable(orderAmountMinor: 1000, refunds: refunds) == 500)
        #expect(RefundRules.refunded(refunds) == 300)
        #expect(RefundRules.refusal(orderStatus: .successful, orderAmountMinor: 1000, refunds: refunds, amountMinor: 500, maximumRefunds: 10) == nil)
        #expect(RefundRules.refusal(orderStatus: .successful, orderAmountMinor: 1000, refunds: refunds, amountMinor: 501, maximumRefunds: 10)
                == .exceedsRefundable(requestedMinor: 501, refundableMinor: 500))
        #expect(RefundRules.refusal(orderStatus: .failed, orderAmountMinor: 1000, refunds: [], amountMinor: 1, maximumRefunds: 10)
                == .orderNotSuccessful(.failed))
        #expect(RefundRules.refusal(orderStatus: .successful, orderAmountMinor: 1000, refunds: refunds, amountMinor: 1, maximumRefunds: 3)
                == .tooManyRefunds(limit: 3))
        // Hostile amounts cannot overflow the sums.
        let huge = [RefundAmount(amountMinor: .max, status: .pending), RefundAmount(amountMinor: .max, status: .successful)]
        #expect(RefundRules.refundable(orderAmountMinor: 1000, refunds: huge) == 0)
        #expect(RefundRules.refunded(huge + huge) == .max)
    }
}
