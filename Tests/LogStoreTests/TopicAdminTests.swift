import Foundation
import NIOCore
import Protocol
import Testing
@testable import LogStore

/// What DeleteTopics, CreatePartitions and DeleteRecords rely on in the store.
@Suite("Deleting topics, adding partitions, deleting records")
struct TopicAdminTests {
    /// 15 partition logs at most, 10 databases kept for application tables.
    private func smallStore(_ path: String) throws -> LogStore {
        try openStore(path) { $0.maximumDatabases = CoreDatabases.count + 25; $0.reservedTableDatabases = 10 }
    }

    @Test func aDeletedTopicsLogsAreDroppedOnTheNextOpen() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        do {
            let store = try smallStore(directory.path)
            defer { store.close() }
            try await store.createTopic("kept", partitions: 2)
            try await store.append(topic: "kept", partition: 1, records: [record("k", "kept")])
            try await store.createTopic("gone", partitions: 12)
            try await store.append(topic: "gone", partition: 11, records: [record("k", String(repeating: "x", count: 4000))])
            #expect(try await store.write { try $0.deleteTopic("gone") })
            // While the process runs, readers may hold the emptied logs' handles: they still count.
            #expect(store.partitionCapacity.used == 14)
            do {
                try await store.createTopic("other", partitions: 12)
                Issue.record("a deleted topic's logs were reused by another name while open")
            } catch let error as LogStoreError {
                #expect(error.code == .tooManyPartitions)
            }
            // The same name reuses them, empty.
            try await store.createTopic("gone", partitions: 12)
            #expect(try allRecords(store, "gone", 11).isEmpty)
            #expect(try await store.write { try $0.deleteTopic("gone") })
        }
        let store = try smallStore(directory.path)
        defer { store.close() }
        #expect(store.partitionCapacity.used == 2)
        #expect(try allRecords(store, "kept", 1).map(\.valueString) == ["kept"])
        try await store.createTopic("other", partitions: 12)
        try await store.append(topic: "other", partition: 11, records: [record("k", "new")])
        #expect(try allRecords(store, "other", 11).map(\.valueString) == ["new"])
    }

    @Test func partitionsBeyondARecreatedSmallerTopicAreDropped() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        do {
            let store = try smallStore(directory.path)
            defer { store.close() }
            try await store.createTopic("t", partitions: 3)
            try await store.append(topic: "t", partition: 2, records: [record("k", "old")])
            _ = try await store.write { try $0.deleteTopic("t") }
            try await store.createTopic("t", partitions: 1)
        }
        let store = try smallStore(directory.path)
        defer { store.close() }
        #expect(store.partitionCapacity.used == 1)
        _ = try await store.write { try $0.addPartitions(topic: "t", count: 3) }
        #expect(try allRecords(store, "t", 2).isEmpty)
        #expect(try store.describe(topic: "t")?.partitions[2].highWatermark == 0)
    }

    @Test func addedPartitionsStartEmptyAndSurviveReopening() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        do {
            let store = try smallStore(directory.path)
            defer { store.close() }
            try await store.createTopic("grow", partitions: 1)
            try await store.append(topic: "grow", partition: 0, records: [record("k", "p0")])
            let grown = try await store.write { try $0.addPartitions(topic: "grow", count: 3) }
            #expect(grown.partitionCount == 3)
            #expect(grown.partitions[0].highWatermark == 1)
            let appended = try await store.append(topic: "grow", partition: 2, records: [record("k", "p2")])
            #expect(appended.baseOffset == 0)
            // A reused log from a deleted topic of the same name is empty too (checked above).
        }
        let store = try smallStore(directory.path)
        defer { store.close() }
        #expect(try store.describe(topic: "grow")?.partitionCount == 3)
        #expect(try allRecords(store, "grow", 2).map(\.valueString) == ["p2"])
        #expect(store.partitionCapacity.used == 3)
    }

    @Test func partitionsAreOnlyAddedAndWithinTheBudget() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try smallStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 2)
        for count in [1, 2] {
            do {
                _ = try await store.write { try $0.addPartitions(topic: "t", count: count) }
                Issue.record("grew to \(count)")
            } catch let error as LogStoreError {
                #expect(error.code == .invalidPartitions)
                #expect(error.message.contains("must be larger"))
            }
        }
        do {
            _ = try await store.write { try $0.addPartitions(topic: "t", count: 16) }
            Issue.record("passed maximumPartitions")
        } catch let error as LogStoreError {
            #expect(error.code == .tooManyPartitions)
            #expect(error.message.contains("maximumPartitions=15"))
        }
        #expect(try store.describe(topic: "t")?.partitionCount == 2)
        do {
            _ = try await store.write { try $0.addPartitions(topic: "missing", count: 3) }
            Issue.record("grew a missing topic")
        } catch let error as LogStoreError {
            #expect(error.code == .unknownTopicOrPartition)
        }
        _ = try await store.write { try $0.addPartitions(topic: "t", count: 15) }
        #expect(store.partitionCapacity == (used: 15, maximum: 15))
    }

    /// Three batches of two records: offsets 0-1, 2-3, 4-5.
    private func threeBatches(_ store: LogStore) async throws {
        try await store.createTopic("t", partitions: 1)
        for batch in 0..<3 {
            try await store.append(topic: "t", partition: 0, records: [record("k", "\(2 * batch)"), record("k", "\(2 * batch + 1)")])
        }
    }

    @Test func deleteRecordsMovesTheLogStartAndRemovesWholeBatchesOnly() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        do {
            let store = try smallStore(directory.path)
            defer { store.close() }
            try await threeBatches(store)
            let start = try await store.write { try $0.deleteRecords(topic: "t", partition: 0, before: 3) }
            #expect(start == 3)
            let partition = try #require(try store.describe(topic: "t")?.partitions[0])
            #expect(partition.logStartOffset == 3 && partition.highWatermark == 6)
            #expect(partition.batchCount == 2)  // 2-3 straddles the new start and stays
            do {
                _ = try await store.fetch(topic: "t", partition: 0, offset: 2)
                Issue.record("an offset below the log start was served")
            } catch let error as LogStoreError {
                #expect(error.code == .offsetOutOfRange)
            }
            let fetched = try await store.fetch(topic: "t", partition: 0, offset: 3, maxBytes: 1 << 20)
            #expect(try fetched.decodedRecords().map(\.valueString) == ["2", "3", "4", "5"])
            // Below the log start: nothing changes, the current start is answered.
            #expect(try await store.write { try $0.deleteRecords(topic: "t", partition: 0, before: 1) } == 3)
        }
        let store = try smallStore(directory.path)
        defer { store.close() }
        #expect(try store.describe(topic: "t")?.partitions[0].logStartOffset == 3)
        // -1 is the high watermark: everything goes, appends go on at 6.
        #expect(try await store.write { try $0.deleteRecords(topic: "t", partition: 0, before: -1) } == 6)
        let emptied = try #require(try store.describe(topic: "t")?.partitions[0])
        #expect(emptied.batchCount == 0 && emptied.sizeBytes == 0 && emptied.logStartOffset == 6)
        let appended = try await store.append(topic: "t", partition: 0, records: [record("k", "6")])
        #expect(appended.baseOffset == 6)
        #expect(try allRecords(store, "t", 0).map(\.valueString) == ["6"])
    }

    @Test func deleteRecordsPastTheHighWatermarkIsRefused() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try smallStore(directory.path)
        defer { store.close() }
        try await threeBatches(store)
        for offset: Int64 in [7, -2, .max] {
            do {
                _ = try await store.write { try $0.deleteRecords(topic: "t", partition: 0, before: offset) }
                Issue.record("deleted before \(offset)")
            } catch let error as LogStoreError {
                #expect(error.code == .offsetOutOfRange)
            }
        }
        do {
            _ = try await store.write { try $0.deleteRecords(topic: "t", partition: 1, before: 1) }
            Issue.record("deleted from a missing partition")
        } catch let error as LogStoreError {
            #expect(error.code == .unknownTopicOrPartition)
        }
        #expect(try store.describe(topic: "t")?.partitions[0].logStartOffset == 0)
    }

    /// Retention after DeleteRecords never moves the log start back, and a timestamp lookup
    /// answers no offset below it.
    @Test func retentionAndTheTimeIndexRespectTheNewLogStart() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try smallStore(directory.path)
        defer { store.close() }
        try await threeBatches(store)
        _ = try await store.write { try $0.deleteRecords(topic: "t", partition: 0, before: 3) }
        let byTime = try store.read { try $0.offset(topic: "t", partition: 0, forTimestamp: 0) }
        #expect(byTime?.offset == 3)
        _ = try await store.write { transaction in
            try transaction.alterTopicConfiguration("t", TopicConfiguration(retentionBytes: 0))
        }
        _ = try await store.applyRetention()
        let partition = try #require(try store.describe(topic: "t")?.partitions[0])
        #expect(partition.logStartOffset >= 3)
    }
}

@Suite("Committed offsets")
struct CommittedOffsetPresenceTests {
    @Test func aGroupHasOffsetsWithoutReadingThem() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 1)
        try await store.commitOffset(group: "ab", topic: "t", partition: 0, offset: 0)
        #expect(try store.read { try $0.hasCommittedOffsets(group: "ab") })
        // Neighbours in key order are other groups, not this one.
        #expect(try !store.read { try $0.hasCommittedOffsets(group: "a") })
        #expect(try !store.read { try $0.hasCommittedOffsets(group: "abc") })
        #expect(try !store.read { try $0.hasCommittedOffsets(group: "b") })
        #expect(try await store.write { try $0.hasCommittedOffsets(group: "ab") })
    }
}
