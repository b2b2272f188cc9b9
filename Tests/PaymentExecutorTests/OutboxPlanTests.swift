import Foundation
import KafkaClient
import Testing
@testable import PaymentExecutor

/// The outbox's pure decisions: sequence reservation, sealing, re-numbering, error handling.
@Suite struct OutboxPlanTests {
    func record(_ id: String, bytes: Int = 10) -> OutboxRecord {
        OutboxRecord(attemptKey: id, resultIndex: 0, timestamp: 1, value: Data(repeating: 1, count: bytes), headers: [])
    }

    func entry(_ sequence: Int32, records: Int = 1, sealed: Bool = false, producerId: Int64 = 7, epoch: Int16 = 0) -> OutboxEntry {
        OutboxEntry(producerId: producerId, producerEpoch: epoch, baseSequence: sequence, sealed: sealed,
                    records: (0..<records).map { record("o\(sequence)-\($0)") })
    }

    @Test func reservingSequencesAdvancesPerPartitionAndWrapsLikeKafka() {
        var state = OutboxProducerState(producerId: 7, producerEpoch: 0)
        #expect(state.reserve(3, partition: 0) == (0, 0))
        #expect(state.reserve(1, partition: 1) == (0, 1))
        #expect(state.reserve(2, partition: 0) == (3, 2))
        #expect(state.nextSequences == [0: 5, 1: 1])
        state.nextSequences[2] = Int32.max - 1
        #expect(state.reserve(3, partition: 2).baseSequence == Int32.max - 1)
        #expect(state.nextSequences[2] == 1)  // max-1, max, 0 used
    }

    @Test func unsealedHeadEntriesMergeIntoOneSealedBatch() throws {
        let plan = try #require(OutboxPlan.nextBatch([entry(0), entry(1, records: 2), entry(3)], limits: .init()))
        #expect(plan.consumed == 3)
        #expect(plan.batch.sealed)
        #expect(plan.batch.baseSequence == 0)
        #expect(plan.batch.records.count == 4)
        #expect(plan.batch.nextSequence == 4)
    }

    @Test func aSealedHeadIsSentAloneAndUnchanged() throws {
        let head = entry(0, records: 2, sealed: true)
        let plan = try #require(OutboxPlan.nextBatch([head, entry(2), entry(3)], limits: .init()))
        #expect(plan.consumed == 1)
        #expect(plan.batch == head)
    }

    @Test func mergingStopsAtSealedEntriesGapsOtherProducersAndLimits() throws {
        #expect(OutboxPlan.nextBatch([entry(0), entry(1, sealed: true)], limits: .init())?.consumed == 1)
        #expect(OutboxPlan.nextBatch([entry(0), entry(5)], limits: .init())?.consumed == 1)
        #expect(OutboxPlan.nextBatch([entry(0), entry(1, producerId: 8)], limits: .init())?.consumed == 1)
        #expect(OutboxPlan.nextBatch([entry(0), entry(1, epoch: 1)], limits: .init())?.consumed == 1)
        #expect(OutboxPlan.nextBatch([entry(0, records: 2), entry(2, records: 2)], limits: .init(maximumRecords: 3))?.consumed == 1)
        let big = OutboxEntry(producerId: 7, producerEpoch: 0, baseSequence: 1, sealed: false, records: [record("x", bytes: 2000)])
        #expect(OutboxPlan.nextBatch([entry(0), big], limits: .init(maximumBytes: 1000))?.consumed == 1)
        #expect(OutboxPlan.nextBatch([], limits: .init()) == nil)
    }

    @Test func mergingFollowsSequencesAcrossTheWrap() throws {
        let plan = try #require(OutboxPlan.nextBatch([entry(Int32.max, records: 1), entry(0)], limits: .init()))
        #expect(plan.consumed == 2)
        #expect(plan.batch.nextSequence == 1)
    }

    @Test func renumberingStartsAtZeroUnderTheNewProducerAndUnseals() {
        let result = OutboxPlan.renumber([entry(40, records: 2, sealed: true), entry(42), entry(43, records: 3)], producerId: 9, producerEpoch: 0)
        #expect(result.entries.map(\.baseSequence) == [0, 2, 3])
        #expect(result.entries.allSatisfy { $0.producerId == 9 && !$0.sealed })
        #expect(result.nextSequence == 6)
        #expect(result.entries.map(\.records) == [entry(40, records: 2).records, entry(42).records, entry(43, records: 3).records])
    }

    @Test func producerStateErrorsReinitializeAndTransientOnesRetry() {
        #expect(OutboxPlan.action(for: .broker(45, "gap")) == .reinitializeProducer)
        #expect(OutboxPlan.action(for: .broker(59, "unknown producer")) == .reinitializeProducer)
        #expect(OutboxPlan.action(for: .broker(47, "fenced epoch")) == .reinitializeProducer)
        #expect(OutboxPlan.action(for: .broker(90, "producer fenced")) == .reinitializeProducer)
        #expect(OutboxPlan.action(for: KafkaClientError(.connectionClosed, "dropped")) == .retry)
        #expect(OutboxPlan.action(for: KafkaClientError(.requestTimedOut, "slow")) == .retry)
        #expect(OutboxPlan.action(for: .broker(6, "not leader")) == .retry)
        #expect(OutboxPlan.action(for: .broker(10, "message too large")) == .retryLoudly)
    }
}
