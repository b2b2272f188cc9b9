import Foundation
import KafkaClient
import LogStore
import Payments
import PaynodeTestSupport
import Protocol
import Testing
@testable import PaymentExecutor

/// The outbox sender against the node's broker, run in process: acknowledged batches leave the
/// outbox, a batch re-sent after a lost acknowledgement is deduplicated, and a broker that
/// refuses our producer state gets the outbox re-numbered under a new producer id, losing nothing.
@Suite(.serialized) struct OutboxSenderTests {
    let topic = PaymentTopics.pspResultUpdates

    func client(_ broker: InProcessBroker) -> KafkaClient {
        KafkaClient(configuration: KafkaClientConfiguration(
            bootstrapServers: [broker.address],
            reconnectBackoff: KafkaBackoff(initial: .milliseconds(20), maximum: .milliseconds(200)),
            reconnectAttempts: 10))
    }

    func record(_ id: String) -> OutboxRecord {
        OutboxRecord(attemptKey: id, resultIndex: 0, timestamp: 1_700_000_000_000, value: Data(id.utf8), headers: [])
    }

    /// Runs a sender until the outbox is empty (or 20 s pass), then stops it.
    func drain(_ fixture: OutboxStoreTests.Fixture, client: KafkaClient, producer: (id: Int64, epoch: Int16)) async throws {
        var logger = fixture.logger
        logger.logLevel = .critical
        let sender = OutboxSender(store: fixture.store, client: client, partitions: [0], producer: producer, logger: logger)
        let running = Task { try await sender.run() }
        sender.wake(0)
        let deadline = ContinuousClock.now + .seconds(20)
        // (An unreadable entry makes `pending` throw until the sender has moved it aside.)
        while (try? fixture.pending(0).isEmpty) != true, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        running.cancel()
        _ = await running.result
    }

    func values(_ client: KafkaClient) async throws -> [String] {
        try await client.fetch(topic: topic, partition: 0, offset: 0).map { String(decoding: $0.value ?? [], as: UTF8.self) }
    }

    /// A broker with a one-partition `psp-result-updates`, a client to it, a producer identity
    /// from it and an empty outbox store, for one test.
    func withBroker(_ body: (KafkaClient, (producerId: Int64, epoch: Int16), OutboxStoreTests.Fixture) async throws -> Void) async throws {
        try await InProcessBroker.run { broker in
            let kafka = client(broker)
            defer { Task { await kafka.shutdown() } }
            try await kafka.createTopic(topic, partitions: 1)
            let identity = try await kafka.initProducerId()
            let fixture = try OutboxStoreTests.Fixture()
            defer { fixture.close() }
            try await body(kafka, identity, fixture)
        }
    }

    @Test func aBatchWhoseAcknowledgementWasLostIsReSentAndDeduplicated() async throws {
        try await withBroker { kafka, identity, fixture in
            try await fixture.store.write { transaction in
                try OutboxStore.save(OutboxProducerState(producerId: identity.producerId, producerEpoch: identity.epoch), in: transaction)
                for id in ["a", "b", "c"] { try OutboxStore.enqueue([self.record(id)], partition: 0, in: transaction) }
            }
            // Before a "crash": the batch was sealed and reached the log, its answer never came.
            let sealed = try #require(try await fixture.store.write { try OutboxStore.sealNext(partition: 0, limits: .init(), in: $0) })
            #expect(try await kafka.produce(sealed.entry.records.map(\.kafkaRecord), to: .init(topic, 0), producer: sealed.entry.fields) == 0)

            // After the restart: the same batch goes out again, then what came after it.
            try await fixture.store.write { try OutboxStore.enqueue([self.record("d")], partition: 0, in: $0) }
            try await drain(fixture, client: kafka, producer: (identity.producerId, identity.epoch))
            #expect(try fixture.pending(0).isEmpty)
            #expect(try await values(kafka) == ["a", "b", "c", "d"])
        }
    }

    @Test func aRefusedProducerStateIsReplacedAndTheOutboxReNumbered() async throws {
        try await withBroker { kafka, identity, fixture in
            _ = try await kafka.produce([record("old").kafkaRecord], to: .init(topic, 0),
                                        producer: .init(producerId: identity.producerId, producerEpoch: identity.epoch, baseSequence: 0))
            // Our stored sequences run ahead of the broker's (e.g. it was restored from an old backup).
            var state = OutboxProducerState(producerId: identity.producerId, producerEpoch: identity.epoch)
            state.nextSequences[0] = 40
            let stale = state
            try await fixture.store.write { transaction in
                try OutboxStore.save(stale, in: transaction)
                for id in ["x", "y"] { try OutboxStore.enqueue([self.record(id)], partition: 0, in: transaction) }
            }
            try await drain(fixture, client: kafka, producer: (identity.producerId, identity.epoch))
            #expect(try fixture.pending(0).isEmpty)
            #expect(try await values(kafka) == ["old", "x", "y"])
            let renewed = try #require(try fixture.state())
            #expect(renewed.producerId != identity.producerId)
            #expect(renewed.nextSequences[0] == 2)
        }
    }

    @Test func aDamagedEntryIsQuarantinedAndEveryResultIsStillPublishedOnce() async throws {
        try await withBroker { kafka, identity, fixture in
            try await fixture.store.write {
                try OutboxStore.save(OutboxProducerState(producerId: identity.producerId, producerEpoch: identity.epoch), in: $0)
            }
            let keys = try await OutboxStoreTests.journal(["a", "b", "c"], in: fixture)
            try await fixture.store.write { try $0.table(OutboxStore.entries).put(keys[1], [0x42]) }

            try await drain(fixture, client: kafka, producer: (identity.producerId, identity.epoch))
            #expect(try fixture.pending(0).isEmpty)
            #expect(try fixture.store.read { try $0.table(OutboxStore.quarantine)?.get(keys[1]) } == [0x42])
            // b's result came back from its attempt; the sequence gap it left was re-numbered away.
            let published = try await kafka.fetch(topic: topic, partition: 0, offset: 0).map { String(decoding: $0.key ?? [], as: UTF8.self) }
            #expect(published.sorted() == ["a", "b", "c"])
        }
    }
}
