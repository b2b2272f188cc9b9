import Foundation
import NIOCore
import Protocol
import Testing
@testable import LogStore

@Suite("Consumer-group offsets")
struct GroupOffsetTests {
    @Test func commitAndFetchWithMetadataAcrossRestart() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let before = currentTimeMilliseconds()
        do {
            let store = try openStore(directory.path)
            try await store.createTopic("t", partitions: 2)
            try await store.append(topic: "t", partition: 0, records: (0..<43).map { record("k\($0)", "v") })
            try await store.append(topic: "t", partition: 1, records: (0..<7).map { record("k\($0)", "v") })
            try await store.commitOffset(group: "payment-service", topic: "t", partition: 0, offset: 42, metadata: "consumer-1")
            try await store.commitOffset(group: "payment-service", topic: "t", partition: 1, offset: 7)
            try await store.commitOffset(group: "other", topic: "t", partition: 0, offset: 1, metadata: "")
            try await store.commitOffset(group: "payment-service", topic: "t", partition: 0, offset: 43, metadata: "consumer-1b")
            store.close()
        }
        let store = try openStore(directory.path)
        defer { store.close() }
        let committed = try #require(try store.committedOffset(group: "payment-service", topic: "t", partition: 0))
        #expect(committed.offset == 43)
        #expect(committed.metadata == "consumer-1b")
        #expect(committed.commitTimestampMilliseconds >= before)
        #expect(committed.commitTimestampMilliseconds <= currentTimeMilliseconds())
        #expect(try store.committedOffset(group: "payment-service", topic: "t", partition: 1)?.metadata == nil)
        #expect(try store.committedOffset(group: "other", topic: "t", partition: 0)?.metadata == "")
        #expect(try store.committedOffset(group: "nobody", topic: "t", partition: 0) == nil)
        let all = try store.read { try $0.committedOffsets(group: "payment-service") }
        #expect(all.mapValues(\.offset) == [TopicPartition("t", 0): 43, TopicPartition("t", 1): 7])
        #expect(try store.read { try $0.groups() } == ["other", "payment-service"])
    }

    @Test func commitsForUnknownPartitionsAreRefused() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 1)
        await #expect(throws: LogStoreError.self) { try await store.commitOffset(group: "g", topic: "t", partition: 5, offset: 1) }
        await #expect(throws: LogStoreError.self) { try await store.commitOffset(group: "", topic: "t", partition: 0, offset: 1) }
    }

    /// An offset a consumer cannot have reached is refused rather than stored: Int64.min used to be
    /// stored and trap every later lag computation, and one past the end would skip future records.
    @Test func commitsOutsideTheLogAreRefused() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 1)
        try await store.append(topic: "t", partition: 0, records: (0..<3).map { record("k\($0)", "v") })
        for offset in [Int64.min, -2, 4, Int64.max] {
            await #expect(throws: LogStoreError.self) { try await store.commitOffset(group: "g", topic: "t", partition: 0, offset: offset) }
        }
        #expect(try store.committedOffset(group: "g", topic: "t", partition: 0) == nil)
        for offset: Int64 in [-1, 0, 3] {
            try await store.commitOffset(group: "g", topic: "t", partition: 0, offset: offset)
            #expect(try store.committedOffset(group: "g", topic: "t", partition: 0)?.offset == offset)
        }
    }
}

@Suite("Idempotent producer")
struct ProducerTests {
    func producerBatch(_ id: Int64, epoch: Int16, sequence: Int32, count: Int = 2, tag: String = "") throws -> ByteBuffer {
        try RecordBatch.encode(records: (0..<count).map { record("k\($0)", "\(tag)\(sequence)-\($0)") },
                               producerId: id, producerEpoch: epoch, baseSequence: sequence)
    }

    @Test func producerIdsAreNeverReused() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        var seen = Set<Int64>()
        for _ in 0..<2 {
            let store = try openStore(directory.path)
            for _ in 0..<5 {
                let identity = try await store.allocateProducerId()
                #expect(identity.epoch == 0)
                #expect(seen.insert(identity.producerId).inserted)
            }
            store.close()
        }
        #expect(seen.count == 10)
    }

    @Test func duplicatesAnswerTheOriginalOffsetAcrossRestart() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let id: Int64
        do {
            let store = try openStore(directory.path)
            try await store.createTopic("t", partitions: 1)
            id = try await store.allocateProducerId().producerId
            let first = try await store.appendBatch(topic: "t", partition: 0, batch: producerBatch(id, epoch: 0, sequence: 0))
            #expect(first == .appended(first.result) && first.result.baseOffset == 0)
            let second = try await store.appendBatch(topic: "t", partition: 0, batch: producerBatch(id, epoch: 0, sequence: 2))
            #expect(second.result.baseOffset == 2)
            let duplicate = try await store.appendBatch(topic: "t", partition: 0, batch: producerBatch(id, epoch: 0, sequence: 0))
            guard case .duplicate(let original) = duplicate else { Issue.record("not a duplicate: \(duplicate)"); return }
            #expect(original.baseOffset == 0 && original.lastOffset == 1)
            store.close()
        }
        let store = try openStore(directory.path)
        defer { store.close() }
        let afterRestart = try await store.appendBatch(topic: "t", partition: 0, batch: producerBatch(id, epoch: 0, sequence: 2))
        guard case .duplicate(let original) = afterRestart else { Issue.record("not a duplicate after restart"); return }
        #expect(original.baseOffset == 2)
        #expect(try store.describe(topic: "t")?.partitions[0].highWatermark == 4)
        // A gap is detected after the restart too.
        do {
            _ = try await store.appendBatch(topic: "t", partition: 0, batch: producerBatch(id, epoch: 0, sequence: 7))
            Issue.record("gap accepted")
        } catch let error as LogStoreError {
            #expect(error.code == .outOfOrderSequence)
            #expect(error.message.contains("expected 4"))
        }
        #expect(try allRecords(store, "t", 0).count == 4)
    }

    @Test func epochsFenceAndRestartSequences() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 1)
        let id = try await store.allocateProducerId().producerId
        _ = try await store.appendBatch(topic: "t", partition: 0, batch: producerBatch(id, epoch: 3, sequence: 0))
        // A bumped epoch must start at sequence 0.
        await #expect(throws: LogStoreError.self) {
            _ = try await store.appendBatch(topic: "t", partition: 0, batch: self.producerBatch(id, epoch: 4, sequence: 5))
        }
        let bumped = try await store.appendBatch(topic: "t", partition: 0, batch: producerBatch(id, epoch: 4, sequence: 0, tag: "e4-"))
        #expect(bumped.result.baseOffset == 2)
        do {
            _ = try await store.appendBatch(topic: "t", partition: 0, batch: producerBatch(id, epoch: 3, sequence: 2))
            Issue.record("old epoch accepted")
        } catch let error as LogStoreError {
            #expect(error.code == .invalidProducerEpoch)
        }
    }

    @Test func sequencesWrapPastInt32Max() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 1)
        let id = try await store.allocateProducerId().producerId
        _ = try await store.appendBatch(topic: "t", partition: 0, batch: producerBatch(id, epoch: 0, sequence: Int32.max - 1, count: 2))
        let wrapped = try await store.appendBatch(topic: "t", partition: 0, batch: producerBatch(id, epoch: 0, sequence: 0, count: 1))
        #expect(wrapped == .appended(wrapped.result))
    }

    @Test func invalidBatchesChangeNothing() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 1)
        var corrupt = try producerBatch(-1, epoch: -1, sequence: -1)
        corrupt.setInteger(UInt8(0xFF), at: corrupt.writerIndex - 1)
        var garbage = ByteBuffer()
        garbage.writeBytes([0, 1, 2, 3])
        for batch in [corrupt, garbage] {
            do {
                _ = try await store.appendBatch(topic: "t", partition: 0, batch: batch)
                Issue.record("invalid batch accepted")
            } catch let error as LogStoreError {
                // A failed checksum and a cut-off batch are CORRUPT_MESSAGE in Kafka's terms.
                #expect(error.code == .corruptMessage)
            }
        }
        #expect(try store.describe(topic: "t")?.partitions[0].highWatermark == 0)
    }

    @Test func stateMachineDecisions() {
        typealias State = ProducerPartitionState
        #expect(State.check(nil, epoch: 0, firstSequence: 17, lastSequence: 18) == .append)
        var state = State.applying(nil, epoch: 1, entry: .init(firstSequence: 0, lastSequence: 4, baseOffset: 10, lastOffsetDelta: 4, appendTimeMilliseconds: 0))
        #expect(State.check(state, epoch: 1, firstSequence: 5, lastSequence: 9) == .append)
        #expect(State.check(state, epoch: 1, firstSequence: 6, lastSequence: 9) == .outOfOrderSequence(expected: 5, received: 6))
        #expect(State.check(state, epoch: 0, firstSequence: 5, lastSequence: 9) == .invalidEpoch(current: 1, received: 0))
        for index in 1...6 {
            state = State.applying(state, epoch: 1, entry: .init(firstSequence: Int32(index * 5), lastSequence: Int32(index * 5 + 4),
                                                                 baseOffset: Int64(10 + index * 5), lastOffsetDelta: 4, appendTimeMilliseconds: 0))
        }
        #expect(state.batches.count == 5)
        // The oldest batches fall out of the window of five.
        #expect(State.check(state, epoch: 1, firstSequence: 0, lastSequence: 4) == .outOfOrderSequence(expected: 35, received: 0))
        if case .duplicate(let entry) = State.check(state, epoch: 1, firstSequence: 10, lastSequence: 14) {
            #expect(entry.baseOffset == 20)
        } else {
            Issue.record("expected a duplicate")
        }
        let decoded = state.encoded().withUnsafeBytes { try? State(decoding: $0) }
        #expect(decoded == state)
    }
}

@Suite("Producer owners")
struct ProducerOwnerTests {
    @Test func theFirstOwnerIsReadBackThroughEitherTransactionsTable() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        // No owner recorded yet: a read transaction has no table at all.
        #expect(try store.read { try ProducerOwners.owner(of: 7, in: $0.table(ProducerOwners.table)) } == nil)
        let inWrite = try await store.write { transaction -> String? in
            try ProducerOwners.record(7, owner: "User:executor", in: transaction)
            try ProducerOwners.record(7, owner: "User:mallory", in: transaction)
            return try ProducerOwners.owner(of: 7, in: transaction.table(ProducerOwners.table))
        }
        #expect(inWrite == "User:executor")
        #expect(try store.read { try ProducerOwners.owner(of: 7, in: $0.table(ProducerOwners.table)) } == "User:executor")
        #expect(try store.read { try ProducerOwners.owner(of: 8, in: $0.table(ProducerOwners.table)) } == nil)
        // -1 is a non-idempotent producer's id: nobody owns it.
        #expect(try store.read { try ProducerOwners.owner(of: -1, in: $0.table(ProducerOwners.table)) } == nil)
    }
}
