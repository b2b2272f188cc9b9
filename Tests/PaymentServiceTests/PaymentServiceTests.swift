import Foundation
import LogStore
import Logging
import PaymentEvents
import Payments
import Protocol
import Testing
import Tracing
@testable import PaymentService

@Suite("PaymentService over the embedded log")
struct PaymentServiceTests {
    struct Fixture {
        let directory: String
        let store: LogStore
        let service: PaymentService

        /// `resultProducers`: the principals whose results the consumer applies (nil: any).
        init(resultProducers: Set<String>? = nil) async throws {
            directory = NSTemporaryDirectory() + "paynode-payments-\(UUID().uuidString.prefix(8))"
            var configuration = LogStoreConfiguration(dataDirectory: directory)
            configuration.initialMapSize = 16 << 20
            configuration.retentionCheckIntervalMilliseconds = 0
            var logger = Logger(label: "test")
            logger.logLevel = .warning
            store = try LogStore(configuration: configuration, logger: logger)
            service = PaymentService(store: store, resultProducers: resultProducers)
            try await service.ensureTopics(partitions: 3)
        }

        func close() {
            store.close()
            try? FileManager.default.removeItem(atPath: directory)
        }

        func create(_ key: String, token: String = "tok_visa", amount: Int = 5000) async throws -> (CreateOrderOutcome, String) {
            let body = #"{"merchantId":"m_1","amount":\#(amount),"currency":"EUR","paymentMethod":"\#(token)","psp":"stripe"}"#
            let response = try await service.createOrder(body: Array(body.utf8), idempotencyKey: key,
                                                         traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
            let object = try response.order.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            return (response, object?["paymentOrderId"] as? String ?? "")
        }

        /// Produces a PspResultUpdateEvent into psp-result-updates the way the executor will.
        func publish(_ orderId: String, _ status: Paynode_Events_V1_PspStatus, reference: String? = "pi_1", error: String? = nil) async throws {
            var event = Paynode_Events_V1_PspResultUpdateEvent()
            event.paymentOrderID = orderId
            event.pspStatus = status
            if let reference { event.pspReference = reference }
            if let error { event.errorCode = error }
            event.eventTimeUnixMs = 1_700_000_000_000
            event.psp = "stripe"
            let encoded = try EventEnvelope.encode(event)
            try await store.append(topic: PaymentTopics.pspResultUpdates, partition: 0,
                                   records: [Record(timestamp: -1, key: Array(orderId.utf8), value: encoded.value, headers: encoded.headers)])
        }

        func order(_ id: String) throws -> [String: Any] {
            let json = try #require(try service.order(id).json)
            return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        }

        func records(_ topic: String) throws -> [Record] {
            var all: [Record] = []
            for partition in try #require(try store.describe(topic: topic)).partitions {
                let result = try store.read { try $0.fetch(topic: topic, partition: partition.partition, offset: 0, maxBytes: 1 << 24) }
                let (batches, _) = try RecordBatch.split(result.records)
                all += try batches.flatMap { try RecordBatch.decodeRecords($0) }
            }
            return all
        }
    }

    /// The consumer decides a batch against a read snapshot and only writes the plan in the
    /// write transaction; the plan must notice when an order it read has changed since.
    @Test func aPlanMadeOnAStaleSnapshotIsRecognisedAndTheSameBatchPlannedInTheTransactionMatchesIt() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let (_, first) = try await fixture.create("stale-1")
        let (_, second) = try await fixture.create("stale-2")
        try await fixture.publish(first, .pending)
        try await fixture.publish(first, .successful)
        try await fixture.publish(second, .failed, error: "card_declined")
        let records = try fixture.records(PaymentTopics.pspResultUpdates)
        let batch = records.map { PreparedResult($0, sourcePartition: 0, tracer: InstrumentationSystem.tracer) }
        let now: Int64 = 1_800_000_000_000
        let planned = try fixture.store.read { try PspResultBatch.plan(batch, view: PaymentStateView($0), sourcePartition: 0, now: now) }
        #expect(planned.summary.records == 3 && planned.summary.outcomes[.applied] == 2 && planned.summary.outcomes[.recorded] == 1)
        #expect(planned.stateWrites.count == 2 && planned.audit.count == 3)
        #expect(planned.outgoing.flatMap(\.1).count == 2)  // one terminal event per order; PENDING emits none

        let (current, inTransaction) = try await fixture.store.write { transaction in
            (try planned.isCurrent(in: transaction),
             try PspResultBatch.plan(batch, view: PaymentStateView(transaction), sourcePartition: 0, now: now))
        }
        #expect(current)
        #expect(inTransaction.stateWrites.map(\.key) == planned.stateWrites.map(\.key))
        #expect(inTransaction.stateWrites.map(\.value) == planned.stateWrites.map(\.value))
        #expect(inTransaction.audit.map { $0.body(sequence: 7, prevHash: AuditLog.genesisHash) }
                == planned.audit.map { $0.body(sequence: 7, prevHash: AuditLog.genesisHash) })

        // Another writer changes the second order's state: the plan is stale; changed back, current.
        let secondKey = try #require(PaymentOrderID(second)).bytes
        let original = try #require(try fixture.store.read { try $0.table(PaymentTables.orders)?.get(secondKey) })
        var changed = try #require(PaymentOrderState(decoding: original))
        changed.status = .failed
        let changedBytes = changed.encoded()
        try await fixture.store.write { try $0.table(PaymentTables.orders).put(secondKey, changedBytes) }
        #expect(try await !fixture.store.write { try planned.isCurrent(in: $0) })
        try await fixture.store.write { try $0.table(PaymentTables.orders).put(secondKey, original) }
        #expect(try await fixture.store.write { try planned.isCurrent(in: $0) })
    }

    /// Results are recorded once, in the audit trail, and the order's history is read from it.
    @Test func historyComesFromTheAuditTrail() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let (_, id) = try await fixture.create("history-1")
        try await fixture.publish(id, .failed, reference: "pi_h", error: "card_declined")
        _ = try await fixture.service.processResults(partition: 0)
        let order = try fixture.order(id)
        let history = try #require(order["history"] as? [[String: Any]])
        #expect(history.count == 1)
        #expect(history[0]["outcome"] as? String == "applied" && history[0]["pspStatus"] as? String == "FAILED")
        #expect(history[0]["errorCode"] as? String == "card_declined" && history[0]["pspReference"] as? String == "pi_h")
        #expect(history[0]["eventTime"] as? Int == 1_700_000_000_000 && history[0]["offset"] as? Int == 0)
        #expect(order["errorCode"] as? String == "card_declined" && order["pspReference"] as? String == "pi_h")

        try await fixture.publish(id, .failed, reference: "pi_h", error: "card_declined")
        _ = try await fixture.service.processResults(partition: 0)
        let both = try #require(try fixture.order(id)["history"] as? [[String: Any]])
        #expect(both.map { $0["outcome"] as? String } == ["applied", "duplicate"] && both.map { $0["offset"] as? Int } == [0, 1])
    }

    /// The idempotency record keeps only a hash of the request and the order; the replayed reply
    /// is rebuilt byte for byte, also after the order moved on. A row that is not such a record
    /// (a damaged store) is refused, never replayed as something else.
    @Test func idempotentRepliesAreRebuiltExactlyAndAForeignRowIsRefused() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let (created, id) = try await fixture.create("key-1", token: "tok_chargeDeclined")
        let stored = try #require(try fixture.store.read {
            try $0.table(PaymentTables.idempotency)?.get(IdempotencyRecord.tableKey(merchantId: "m_1", idempotencyKey: "key-1"))
        })
        #expect(stored.count == IdempotencyRecord.size && IdempotencyRecord(decoding: stored)?.paymentOrderId.description == id)
        try await fixture.publish(id, .failed, error: "card_declined")
        _ = try await fixture.service.processResults(partition: 0)
        #expect(try fixture.order(id)["status"] as? String == "FAILED")
        let (replayed, _) = try await fixture.create("key-1", token: "tok_chargeDeclined")
        #expect(replayed.isReplayed && replayed.order == created.order)

        let oddKey = IdempotencyRecord.tableKey(merchantId: "m_1", idempotencyKey: "odd-key")
        try await fixture.store.write { try $0.table(PaymentTables.idempotency).put(oddKey, Array(#"{"legacy":true}"#.utf8)) }
        let body = #"{"merchantId":"m_1","amount":5000,"currency":"EUR","paymentMethod":"tok_visa","psp":"stripe"}"#
        await #expect(throws: StoredRecordError.self) {
            _ = try await fixture.service.createOrder(body: Array(body.utf8), idempotencyKey: "odd-key", traceparent: nil)
        }
        #expect(IdempotencyRecord(decoding: Array(stored.dropLast())) == nil)
    }

    /// Idempotency keys are scoped per merchant: another merchant's same key creates its own
    /// order (and learns nothing of the first), the same merchant's replays or is refused.
    @Test func idempotencyKeysAreScopedPerMerchant() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        func create(merchant: String, amount: Int = 5000) async throws -> CreateOrderOutcome {
            let body = #"{"merchantId":"\#(merchant)","amount":\#(amount),"currency":"EUR","paymentMethod":"tok_visa","psp":"stripe"}"#
            return try await fixture.service.createOrder(body: Array(body.utf8), idempotencyKey: "shared-key", traceparent: nil)
        }
        let first = try await create(merchant: "m_a")
        let other = try await create(merchant: "m_b", amount: 7000)
        #expect(first.isCreated && other.isCreated && other.order != first.order)
        let again = try await create(merchant: "m_a")
        #expect(again.isReplayed && again.order == first.order)
        #expect(try await create(merchant: "m_b") == .idempotencyKeyReused(key: "shared-key"))
        // A very long merchant id still makes a valid key (hashed, fixed size).
        let long = String(repeating: "\u{1F600}", count: 255)
        #expect(try await create(merchant: long).isCreated)
        #expect(try fixture.records(PaymentTopics.paymentOrders).count == 3)
    }

    /// Each way a creation ends is its own outcome, read with no HTTP in between; only
    /// `created` stores anything.
    @Test func aCreationEndsInOneOutcome() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let request = #"{"merchantId":"m_1","amount":5000,"currency":"EUR","paymentMethod":"tok_visa","psp":"stripe"}"#
        func create(_ key: String?, _ body: String = request, merchant: String? = nil) async throws -> CreateOrderOutcome {
            try await fixture.service.createOrder(body: Array(body.utf8), idempotencyKey: key, traceparent: nil, merchant: merchant)
        }
        #expect(try await create("k", merchant: "m_2") == .merchantForbidden)
        #expect(try await create(nil) == .invalid(PaymentRequestError(code: "idempotency_key_missing",
                                                                      message: "the Idempotency-Key header is required (1 to 255 bytes)")))
        #expect(try await create(String(repeating: "k", count: 256)).refusal?.message
            == "the Idempotency-Key header is 256 bytes; at most 255 bytes (UTF-8) are accepted")
        #expect(try await create("k", "{").refusal?.code == "invalid_json")
        #expect(try fixture.records(PaymentTopics.paymentOrders).isEmpty)

        let created = try await create("k", merchant: "m_1")
        let order = try #require(created.order)
        #expect(created == .created(order: order))
        #expect(try await create("k") == .replayed(order: order))
        #expect(try await create("k", request.replacingOccurrences(of: "5000", with: "5001")) == .idempotencyKeyReused(key: "k"))
        #expect(try fixture.records(PaymentTopics.paymentOrders).count == 1)
    }

    /// Lengths are Characters, as the contract says, however many bytes they take.
    @Test func fieldLengthsCountCharacters() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        func create(merchant: String, currency: String = "EUR") async throws -> CreateOrderOutcome {
            let body = #"{"merchantId":"\#(merchant)","amount":1,"currency":"\#(currency)","paymentMethod":"tok_visa","psp":"stripe"}"#
            return try await fixture.service.createOrder(body: Array(body.utf8), idempotencyKey: UUID().uuidString, traceparent: nil)
        }
        #expect(try await create(merchant: String(repeating: "é", count: 255)).isCreated)
        #expect(try await create(merchant: String(repeating: "é", count: 256)).refusal?.code == "invalid_merchantId")
        #expect(try await create(merchant: String(repeating: "m", count: 256)).refusal?.code == "invalid_merchantId")
        for currency in ["ÉUR", "EU1", "EURO", "eur"] {
            #expect(try await create(merchant: "m", currency: currency).refusal?.code == "invalid_currency")
        }
    }

    @Test func creatingAnOrderWritesOrderIdempotencyAndEventTogether() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let (created, id) = try await fixture.create("key-1")
        #expect(created.isCreated)
        #expect(created.order?.contains(#""status":"PENDING""#) == true)
        #expect(PaymentOrderID(id) != nil)
        let events = try fixture.records(PaymentTopics.paymentOrders)
        #expect(events.count == 1)
        let event = try EventEnvelope.decode(Paynode_Events_V1_PaymentOrderCreated.self, value: events[0].value, headers: events[0].headers)
        #expect(event.paymentOrderID == id && event.amountMinor == 5000 && event.idempotencyKey == "key-1")
        #expect(events[0].headers.contains { $0.key == "traceparent" })
        #expect(try fixture.order(id)["traceId"] as? String == "0af7651916cd43dd8448eb211c80319c")

        // Replay: identical response, no second order or event.
        let (replayed, replayedId) = try await fixture.create("key-1")
        #expect(replayed.isReplayed && replayed.order == created.order && replayedId == id)
        #expect(try fixture.records(PaymentTopics.paymentOrders).count == 1)
        // The same key with another body is refused.
        let (reused, _) = try await fixture.create("key-1", amount: 6000)
        #expect(reused == .idempotencyKeyReused(key: "key-1"))
        // Without an incoming traceparent a new trace starts, and the record carries it.
        let untraced = try await fixture.service.createOrder(
            body: Array(#"{"merchantId":"m_1","amount":1,"currency":"EUR","paymentMethod":"tok_visa","psp":"adyen"}"#.utf8),
            idempotencyKey: "key-2", traceparent: nil)
        #expect(untraced.isCreated)
        let second = try #require(try fixture.records(PaymentTopics.paymentOrders).first { $0.offset == 0 && $0.keyString != id }
            ?? fixture.records(PaymentTopics.paymentOrders).first { $0.keyString != id })
        let header = try #require(second.headers.first { $0.key == "traceparent" }?.value)
        let parts = String(decoding: header, as: UTF8.self).split(separator: "-")
        #expect(parts.count == 4 && parts[0] == "00" && parts[1].count == 32 && parts[2].count == 16)
    }

    @Test(arguments: [
        (#"{"merchantId":"m","amount":0,"currency":"EUR","paymentMethod":"tok_visa","psp":"stripe"}"#, "invalid_amount"),
        (#"{"merchantId":"m","amount":10.5,"currency":"EUR","paymentMethod":"tok_visa","psp":"stripe"}"#, "invalid_amount"),
        (#"{"merchantId":"m","amount":true,"currency":"EUR","paymentMethod":"tok_visa","psp":"stripe"}"#, "invalid_amount"),
        (#"{"merchantId":"m","amount":"5","currency":"EUR","paymentMethod":"tok_visa","psp":"stripe"}"#, "invalid_amount"),
        (#"{"merchantId":"m","amount":5,"currency":"eur","paymentMethod":"tok_visa","psp":"stripe"}"#, "invalid_currency"),
        (#"{"merchantId":"m","amount":5,"currency":"EUR","paymentMethod":"tok_visa","psp":"paypal"}"#, "invalid_psp"),
        (#"{"amount":5,"currency":"EUR","paymentMethod":"tok_visa","psp":"stripe"}"#, "invalid_merchantId"),
        ("[1,2]", "invalid_json"),
        ("{", "invalid_json"),
    ])
    func invalidRequestsGet400(body: String, code: String) async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let response = try await fixture.service.createOrder(body: Array(body.utf8), idempotencyKey: "k", traceparent: nil)
        #expect(response.refusal?.code == code)
        #expect(try fixture.records(PaymentTopics.paymentOrders).isEmpty)
        let missingKey = try await fixture.service.createOrder(body: Array(body.utf8), idempotencyKey: nil, traceparent: nil)
        #expect(missingKey.refusal?.code == "idempotency_key_missing")
    }

    @Test func resultsTransitionOnceWithDuplicatesOutOfOrderAndConflicts() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let (_, visa) = try await fixture.create("a")
        let (_, pending) = try await fixture.create("b", token: "tok_pending")
        let (_, declined) = try await fixture.create("c", token: "tok_chargeDeclined")
        // Each result three times; pending's PENDING arrives after its SUCCESSFUL once too.
        for _ in 0..<3 {
            try await fixture.publish(visa, .successful)
            try await fixture.publish(pending, .pending, reference: "pi_p")
            try await fixture.publish(pending, .successful, reference: "pi_p")
            try await fixture.publish(declined, .failed, reference: nil, error: "card_declined")
        }
        // A late contradicting result for a terminal order: a conflict, not applied.
        try await fixture.publish(visa, .failed, reference: "pi_1", error: "card_declined")
        var summary = try await fixture.service.processResults(partition: 0)
        #expect(summary.records == 13)
        #expect(summary.outcomes[.applied] == 3)
        #expect(summary.outcomes[.recorded] == 1)
        #expect(summary.outcomes[.duplicate] == 8)
        #expect(summary.outcomes[.conflict] == 1)
        #expect(summary.nextOffset == 13)
        #expect(try fixture.store.committedOffset(group: PaymentTopics.consumerGroup, topic: PaymentTopics.pspResultUpdates, partition: 0)?.offset == 13)
        summary = try await fixture.service.processResults(partition: 0)
        #expect(summary.records == 0)

        #expect(try fixture.order(visa)["status"] as? String == "SUCCESSFUL")
        #expect(try fixture.order(pending)["status"] as? String == "SUCCESSFUL")
        #expect(try fixture.order(declined)["status"] as? String == "FAILED")
        #expect(try fixture.order(declined)["errorCode"] as? String == "card_declined")
        let history = try #require(try fixture.order(pending)["history"] as? [[String: Any]])
        #expect(history.compactMap { $0["outcome"] as? String } == ["recorded", "applied", "duplicate", "duplicate", "duplicate", "duplicate"])
        #expect(history.allSatisfy { $0["offset"] is Int && $0["partition"] as? Int == 0 })
        let visaHistory = try #require(try fixture.order(visa)["history"] as? [[String: Any]])
        #expect(visaHistory.compactMap { $0["outcome"] as? String }.filter { $0 == "applied" }.count == 1)
        #expect(visaHistory.last?["outcome"] as? String == "conflict")

        // Exactly one terminal event per order on payment-events.
        let events = try fixture.records(PaymentTopics.paymentEvents)
        #expect(events.count == 3)
        #expect(Set(events.compactMap(\.keyString)) == [visa, pending, declined])
        let failed = try #require(events.first { $0.keyString == declined })
        let decoded = try EventEnvelope.decode(Paynode_Events_V1_PaymentFailed.self, value: failed.value, headers: failed.headers)
        #expect(decoded.errorCode == "card_declined" && decoded.source.topic == PaymentTopics.pspResultUpdates)
    }

    @Test func poisonGoesToTheDeadLetterTopicAndTheConsumerGoesOn() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let (_, order) = try await fixture.create("a")
        try await fixture.store.append(topic: PaymentTopics.pspResultUpdates, partition: 0, records: [
            Record(timestamp: -1, key: Array("junk".utf8), value: [0xFF, 0x00, 0x13], headers: []),
        ])
        try await fixture.publish(PaymentOrderID.make(unixMilliseconds: 1, sequence: 0, random: 7).description, .successful)
        try await fixture.publish("not-an-id", .successful)
        try await fixture.publish(order, .successful)
        let summary = try await fixture.service.processResults(partition: 0)
        #expect(summary.deadLettered == 3)
        #expect(summary.outcomes[.applied] == 1)
        let dead = try fixture.records(PaymentTopics.deadLetters)
        #expect(dead.count == 3)
        func header(_ record: Record, _ name: String) -> String? {
            record.headers.first { $0.key == name }?.value.map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(dead.map { header($0, DeadLetterHeaders.sourceOffset) } == ["0", "1", "2"])
        #expect(dead.allSatisfy { header($0, DeadLetterHeaders.sourceTopic) == PaymentTopics.pspResultUpdates })
        #expect(header(dead[0], DeadLetterHeaders.reason)?.contains("paynode-schema") == true)
        #expect(header(dead[1], DeadLetterHeaders.reason)?.contains("unknown payment order") == true)
        #expect(header(dead[2], DeadLetterHeaders.reason)?.contains("not-an-id") == true)
        #expect(dead[0].value == [0xFF, 0x00, 0x13] && dead[0].keyString == "junk")
        #expect(try fixture.order(order)["status"] as? String == "SUCCESSFUL")
    }
}

extension Record {
    var keyString: String? { key.map { String(decoding: $0, as: UTF8.self) } }
}
