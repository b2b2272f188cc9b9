import Foundation
import LogStore
import Logging
import PaymentEvents
import Payments
import Protocol
import Testing
@testable import PaymentService

/// Results from verified webhooks go through psp-result-updates as the node's Webhook:<psp>
/// producers: applied once, redeliveries deduplicated, the executor's result for the same
/// payment not applied a second time, an unknown order dead-lettered, and the audit trail
/// naming who reported each.
@Suite("Webhook results through the consumer")
struct WebhookPublisherTests {
    typealias Fixture = PaymentServiceTests.Fixture

    static func fixture() async throws -> (Fixture, WebhookResultPublisher) {
        let fixture = try await Fixture(resultProducers: Set(["User:executor"] + WebhookResultPublisher.principals))
        try await fixture.service.ensureTables()
        return (fixture, try await WebhookResultPublisher.prepare(store: fixture.store))
    }

    static func succeeded(_ order: String, event: String = "evt_1") -> ReportedPspResult {
        ReportedPspResult(paymentOrderId: order, status: .successful, pspReference: "pi_web", eventTimeMilliseconds: 1_700_000_000_000,
                          psp: "stripe", pspEventId: event)
    }

    @Test func aWebhookResultIsAppliedOnceHoweverOftenItIsDelivered() async throws {
        let (fixture, publisher) = try await Self.fixture()
        defer { fixture.close() }
        let order = try await fixture.create("web-1", token: "tok_pending").1
        for _ in 0..<3 { try await publisher.publish([Self.succeeded(order)]) }
        try await fixture.consumeAll()
        let view = try fixture.order(order)
        #expect(view["status"] as? String == "SUCCESSFUL" && view["pspReference"] as? String == "pi_web")
        let history = try #require(view["history"] as? [[String: Any]])
        #expect(history.compactMap { $0["outcome"] as? String } == ["applied", "duplicate", "duplicate"])
        #expect(try fixture.auditProducers(order) == ["Webhook:stripe", "Webhook:stripe", "Webhook:stripe"])
        let succeeded = try fixture.records(PaymentTopics.paymentEvents).filter {
            (try? EventEnvelope.schema(of: $0.headers).messageName) == "paynode.events.v1.PaymentSucceeded"
        }
        #expect(succeeded.count == 1)
    }

    @Test func theExecutorsResultAndTheWebhookForOnePaymentDoNotApplyTwice() async throws {
        let (fixture, publisher) = try await Self.fixture()
        defer { fixture.close() }
        let order = try await fixture.create("web-2", token: "tok_pending").1
        // The executor's own result, as User:executor's idempotent producer.
        let executor = try await fixture.store.write { transaction -> ProducerIdentity in
            let identity = try transaction.allocateProducerId()
            try ProducerOwners.record(identity.producerId, owner: "User:executor", in: transaction)
            return identity
        }
        var event = WebhookResultPublisher.event(Self.succeeded(order, event: "attempt-1"))
        event.psp = "stripe"
        let encoded = try EventEnvelope.encode(event)
        let partition = KafkaPartitioner.partition(forKey: Array(order.utf8), partitionCount: 3)
        _ = try await fixture.store.write { transaction in
            try transaction.append(topic: PaymentTopics.pspResultUpdates, partition: partition, records: [
                Record(timestamp: 1_700_000_000_000, key: Array(order.utf8), value: encoded.value, headers: encoded.headers),
            ], producer: executor)
        }
        try await publisher.publish([Self.succeeded(order, event: "evt_2")])
        try await fixture.consumeAll()
        let view = try fixture.order(order)
        #expect(view["status"] as? String == "SUCCESSFUL")
        // The same outcome by two channels is a duplicate, not a conflict: nothing to reconcile.
        let outcomes = try #require(view["history"] as? [[String: Any]]).compactMap { $0["outcome"] as? String }
        #expect(outcomes == ["applied", "duplicate"])
        #expect(try fixture.auditProducers(order) == ["User:executor", "Webhook:stripe"])
        let succeeded = try fixture.records(PaymentTopics.paymentEvents).filter {
            (try? EventEnvelope.schema(of: $0.headers).messageName) == "paynode.events.v1.PaymentSucceeded"
        }
        #expect(succeeded.count == 1)
    }

    @Test func aWebhookForAnUnknownOrderIsDeadLetteredWithItsReason() async throws {
        let (fixture, publisher) = try await Self.fixture()
        defer { fixture.close() }
        let unknown = PaymentOrderID.make(unixMilliseconds: 1, sequence: 0, random: 9).description
        try await publisher.publish([Self.succeeded(unknown), Self.succeeded("", event: "evt_no_metadata")])
        try await fixture.consumeAll()
        let dead = try fixture.records(PaymentTopics.deadLetters)
        #expect(dead.count == 2)
        let reasons = dead.compactMap { record in
            record.headers.first { $0.key == DeadLetterHeaders.reason }?.value.map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(reasons.contains { $0.contains("unknown payment order") })
        #expect(reasons.count == 2)
    }

    /// Idempotent producers: each PSP's results carry its own producer id, whose sequence runs
    /// on across publishes and partitions.
    @Test func eachPspPublishesAsItsOwnProducer() async throws {
        let (fixture, publisher) = try await Self.fixture()
        defer { fixture.close() }
        let order = try await fixture.create("web-3", token: "tok_pending").1
        var adyen = Self.succeeded(order, event: "psp_1:AUTHORISATION:true")
        adyen.psp = "adyen"
        try await publisher.publish([Self.succeeded(order), adyen])
        try await publisher.publish([Self.succeeded(order, event: "evt_3")])
        try await fixture.consumeAll()
        #expect(try fixture.auditProducers(order) == ["Webhook:stripe", "Webhook:adyen", "Webhook:stripe"])
        var unknownPsp = Self.succeeded(order)
        unknownPsp.psp = "paypal"
        await #expect(throws: LogStoreError.self) { try await publisher.publish([unknownPsp]) }
    }
}

extension PaymentServiceTests.Fixture {
    /// Every partition of psp-result-updates consumed to its end.
    func consumeAll() async throws {
        let topic = PaymentTopics.pspResultUpdates
        for partition in try #require(try store.describe(topic: topic)).partitions {
            while try (store.committedOffset(group: PaymentTopics.consumerGroup, topic: topic, partition: partition.partition)?.offset ?? 0)
                    < partition.highWatermark {
                _ = try await service.processResults(partition: partition.partition)
            }
        }
    }

    func auditProducers(_ id: String) throws -> [String?] {
        let orderId = try #require(PaymentOrderID(id))
        return try store.read { try AuditLog.entries(of: orderId, in: $0).entries.map(\.entry.producer) }
    }
}

/// Orders reconciliation gave up on are listed by `needsAttention=true`, PENDING ones only.
@Suite("Orders that need attention")
struct AttentionTests {
    @Test func aNeedsAttentionResultFlagsTheOrderUntilItSettles() async throws {
        let fixture = try await PaymentServiceTests.Fixture()
        defer { fixture.close() }
        let (_, stuck) = try await fixture.create("attention-1", token: "tok_pending")
        let (_, settled) = try await fixture.create("attention-2", token: "tok_pending")
        let (_, other) = try await fixture.create("attention-3", token: "tok_pending")
        for order in [stuck, settled] {
            try await fixture.publish(order, .pending)
            try await fixture.publishResult(order, .pending, error: AttentionIndex.code)
        }
        try await fixture.publish(other, .pending)
        try await fixture.consumeAll()
        func listed() throws -> [String] {
            let json = try fixture.service.listOrders(OrderListQuery.parse(status: nil, limit: nil, cursor: nil, needsAttention: "true"))
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            return (object["orders"] as? [[String: Any]] ?? []).compactMap { $0["paymentOrderId"] as? String }
        }
        #expect(try listed() == [settled, stuck])  // newest first
        // No conflict for the flagging PENDING: recorded.
        let outcomes = try #require(try fixture.order(stuck)["history"] as? [[String: Any]]).compactMap { $0["outcome"] as? String }
        #expect(outcomes == ["recorded", "recorded"])
        // A later webhook settles one: it leaves the listing.
        try await fixture.publish(settled, .successful)
        try await fixture.consumeAll()
        #expect(try listed() == [stuck])
        #expect(throws: PaymentRequestError.self) { try OrderListQuery.parse(status: "FAILED", limit: nil, cursor: nil, needsAttention: "true") }
        #expect(throws: PaymentRequestError.self) { try OrderListQuery.parse(status: nil, limit: nil, cursor: nil, needsAttention: "yes") }
    }
}

extension PaymentServiceTests.Fixture {
    /// A result with an error code, produced like `publish` (partition 0, no producer id).
    func publishResult(_ orderId: String, _ status: Paynode_Events_V1_PspStatus, error: String) async throws {
        let event = Paynode_Events_V1_PspResultUpdateEvent(paymentOrderId: orderId, status: status, pspReference: "pi_1",
                                                           eventTimeMilliseconds: 1_700_000_000_001, errorCode: error, errorMessage: nil,
                                                           psp: "stripe")
        let encoded = try EventEnvelope.encode(event)
        try await store.append(topic: PaymentTopics.pspResultUpdates, partition: 0,
                               records: [Record(timestamp: -1, key: Array(orderId.utf8), value: encoded.value, headers: encoded.headers)])
    }
}
