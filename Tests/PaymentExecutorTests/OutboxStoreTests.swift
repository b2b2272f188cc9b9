import Foundation
import LogStore
import Logging
import Testing
@testable import PaymentExecutor

/// The outbox's tables over a real store: results, sequences and sealing in one transaction.
@Suite struct OutboxStoreTests {
    final class Fixture: Sendable {
        let directory = NSTemporaryDirectory() + "paynode-outbox-\(UUID().uuidString.prefix(8))"
        let store: LogStore
        let logger: Logger

        init() throws {
            var configuration = LogStoreConfiguration(dataDirectory: directory)
            configuration.initialMapSize = 16 << 20
            configuration.retentionCheckIntervalMilliseconds = 0
            var logger = Logger(label: "test")
            logger.logLevel = .warning
            self.logger = logger
            store = try LogStore(configuration: configuration, logger: logger)
        }

        func close() {
            store.close()
            try? FileManager.default.removeItem(atPath: directory)
        }

        func pending(_ partition: Int32) throws -> [OutboxEntry] {
            try store.read { try OutboxStore.pending(partition: partition, in: $0.table(OutboxStore.entries), limit: .max) }.map(\.entry)
        }

        func state() throws -> OutboxProducerState? {
            try store.read { try OutboxStore.producerState($0.table(OutboxStore.producerTable)) }
        }
    }

    func record(_ id: String, index: Int = 0) -> OutboxRecord {
        OutboxRecord(attemptKey: id, resultIndex: index, timestamp: 1, value: Data(id.utf8), headers: [])
    }

    @Test func enqueueingWithoutAProducerIdentityFails() async throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        await #expect(throws: OutboxError.self) {
            try await fixture.store.write { try OutboxStore.enqueue([self.record("a")], partition: 0, in: $0) }
        }
    }

    @Test func enqueuedResultsGetConsecutiveSequencesAndSealIntoOneBatch() async throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        try await fixture.store.write { try OutboxStore.save(OutboxProducerState(producerId: 11, producerEpoch: 2), in: $0) }
        for id in ["a", "b", "c"] {
            try await fixture.store.write { try OutboxStore.enqueue([self.record(id)], partition: 1, in: $0) }
        }
        try await fixture.store.write { try OutboxStore.enqueue([self.record("z")], partition: 0, in: $0) }
        #expect(try fixture.pending(1).map(\.baseSequence) == [0, 1, 2])
        #expect(try fixture.state()?.nextSequences == [1: 3, 0: 1])

        let sealed = try #require(try await fixture.store.write { try OutboxStore.sealNext(partition: 1, limits: .init(), in: $0) })
        #expect(sealed.entry.sealed && sealed.entry.records.map(\.paymentOrderId) == ["a", "b", "c"])
        #expect(sealed.entry.fields == .init(producerId: 11, producerEpoch: 2, baseSequence: 0))
        // Persisted as sealed: sealing again (as after a crash) yields the very same batch.
        #expect(try fixture.pending(1) == [sealed.entry])
        let again = try await fixture.store.write { try OutboxStore.sealNext(partition: 1, limits: .init(), in: $0) }
        #expect(again?.key == sealed.key && again?.entry == sealed.entry)

        // Results queued meanwhile come after the sealed batch, in a later one.
        try await fixture.store.write { try OutboxStore.enqueue([self.record("d")], partition: 1, in: $0) }
        let next = try await fixture.store.write { transaction in
            try OutboxStore.acknowledge(key: sealed.key, batch: sealed.entry, in: transaction)
            return try OutboxStore.sealNext(partition: 1, limits: .init(), in: transaction)
        }
        #expect(next?.entry.baseSequence == 3 && next?.entry.records.map(\.paymentOrderId) == ["d"])
        #expect(try fixture.pending(0).map(\.baseSequence) == [0])
    }

    @Test func acknowledgingMarksTheAttemptsPublished() async throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let order = PaymentExecutor.OrderToPay(paymentOrderId: "o1", amount: 1, currency: "EUR", paymentMethod: "tok_pending", psp: "stripe")
        var attempt = PaymentExecutor.Attempt(order: order, stage: .queued)
        attempt.results = [.init(status: .pending, eventTime: 1), .init(status: .successful, eventTime: 2)]
        let saved = attempt
        try await fixture.store.write { transaction in
            try OutboxStore.save(OutboxProducerState(producerId: 1, producerEpoch: 0), in: transaction)
            try PaymentExecutor.put(saved, key: Array("o1".utf8), in: transaction)
            try OutboxStore.enqueue([self.record("o1", index: 0), self.record("o1", index: 1)], partition: 0, in: transaction)
        }
        let batch = try #require(try await fixture.store.write { try OutboxStore.sealNext(partition: 0, limits: .init(), in: $0) })
        try await fixture.store.write { try OutboxStore.acknowledge(key: batch.key, batch: batch.entry, in: $0) }
        // A later journal write from the payment task (holding published 0) keeps the count.
        try await fixture.store.write { try PaymentExecutor.put(saved, key: Array("o1".utf8), in: $0) }
        let stored = try fixture.store.read { try $0.table(PaymentExecutor.Tables.attempts)?.get(Array("o1".utf8)) }
        let decoded = try PaymentExecutor.Attempt.decode(try #require(stored))
        #expect(decoded.published == 2)
        #expect(try fixture.pending(0).isEmpty)
    }

    /// Journals `ids` as settled attempts with `results` results each, and their outbox entries
    /// (one entry per result); returns the entries' keys in order.
    static func journal(_ ids: [String], results: Int = 1, in fixture: Fixture) async throws -> [[UInt8]] {
        try await fixture.store.write { transaction in
            if try OutboxStore.producerState(transaction.table(OutboxStore.producerTable)) == nil {
                try OutboxStore.save(OutboxProducerState(producerId: 1, producerEpoch: 0), in: transaction)
            }
            for id in ids {
                let order = PaymentExecutor.OrderToPay(paymentOrderId: id, amount: 1, currency: "EUR", paymentMethod: "tok_visa", psp: "stripe")
                var attempt = PaymentExecutor.Attempt(order: order, stage: .settled)
                attempt.results = (0..<results).map { .init(status: $0 + 1 == results ? .successful : .pending, eventTime: Int64(1 + $0)) }
                try PaymentExecutor.put(attempt, key: Array(id.utf8), in: transaction)
                for index in 0..<results {
                    try OutboxStore.enqueue([PaymentExecutor.outboxRecord(attempt, index: index)], partition: 0, in: transaction)
                }
            }
        }
        return try fixture.store.read { transaction in
            try OutboxStore.pending(partition: 0, in: transaction.table(OutboxStore.entries), limit: .max).map(\.key)
        }
    }

    @Test func anUnreadableEntryIsQuarantinedAndItsResultsRequeuedFromTheAttempts() async throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let keys = try await Self.journal(["o1", "o2"], results: 2, in: fixture)
        #expect(keys.count == 4)
        let damaged: [UInt8] = [0xB1, 0xFF, 0x00]
        try await fixture.store.write { try $0.table(OutboxStore.entries).put(keys[2], damaged) }  // o2's first result
        #expect(throws: OutboxEntryUnreadable.self) { try fixture.pending(0) }

        let outcome = try await fixture.store.write { try OutboxStore.quarantineUnreadable(partitionCount: 1, in: $0) }
        #expect(outcome.quarantined.map(\.key) == [keys[2]] && outcome.requeued == 1)
        #expect(outcome.quarantined.first?.description.hasPrefix("outbox entry 0/2 cannot be read") == true)
        // Kept byte for byte for an operator; out of the sender's way.
        #expect(try fixture.store.read { try $0.table(OutboxStore.quarantine)?.get(keys[2]) } == damaged)
        let remaining = try fixture.pending(0).flatMap(\.records).map { "\($0.paymentOrderId)#\($0.resultIndex)" }
        #expect(remaining == ["o1#0", "o1#1", "o2#1", "o2#0"])
        // Nothing left to move: a second pass changes nothing.
        let again = try await fixture.store.write { try OutboxStore.quarantineUnreadable(partitionCount: 1, in: $0) }
        #expect(again.quarantined.isEmpty && again.requeued == 0)
    }

    @Test func renumberingMovesTheWholeOutboxToTheNewProducer() async throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        try await fixture.store.write { try OutboxStore.save(OutboxProducerState(producerId: 1, producerEpoch: 0), in: $0) }
        for (partition, id) in [(0, "a"), (0, "b"), (2, "c")] as [(Int32, String)] {
            try await fixture.store.write { try OutboxStore.enqueue([self.record(id)], partition: partition, in: $0) }
        }
        _ = try await fixture.store.write { try OutboxStore.sealNext(partition: 0, limits: .init(maximumRecords: 1), in: $0) }
        let count = try await fixture.store.write { try OutboxStore.renumberAll(producerId: 5, producerEpoch: 0, in: $0) }
        #expect(count == 3)
        #expect(try fixture.pending(0).map(\.baseSequence) == [0, 1])
        #expect(try fixture.pending(0).allSatisfy { $0.producerId == 5 && !$0.sealed })
        #expect(try fixture.pending(2).map(\.baseSequence) == [0])
        let state = try #require(try fixture.state())
        #expect(state.producerId == 5 && state.nextSequences == [0: 2, 2: 1])
        try await fixture.store.write { try OutboxStore.enqueue([self.record("d")], partition: 0, in: $0) }
        #expect(try fixture.pending(0).map(\.baseSequence) == [0, 1, 2])
    }
}
