import Foundation
import PaynodeTestSupport
import Protocol
import Testing
@testable import LogStore

/// ListOffsets by timestamp answers from the time index: checked against a brute-force scan of
/// every record, with timestamps out of order and retention removing batches.
@Suite("Time index")
struct TimeIndexTests {
    /// The first record at or after `timestamp` by reading everything.
    func bruteForce(_ store: LogStore, _ partition: Int32, _ timestamp: Int64) throws -> Int64? {
        try allRecords(store, "t", partition).first { $0.timestamp >= timestamp }?.offset
    }

    func indexed(_ store: LogStore, _ partition: Int32, _ timestamp: Int64) throws -> Int64? {
        try store.read { try $0.offset(topic: "t", partition: partition, forTimestamp: timestamp) }?.offset
    }

    func expectAgreement(_ store: LogStore, timestamps: Set<Int64>, sourceLocation: SourceLocation = #_sourceLocation) throws {
        var probes = Set([Int64.min, -1, 0, .max])
        for timestamp in timestamps { probes.formUnion([timestamp - 1, timestamp, timestamp + 1]) }
        for partition: Int32 in 0..<2 {
            let records = try allRecords(store, "t", partition)
            for probe in probes {
                let expected = records.first { $0.timestamp >= probe }?.offset
                let found = try indexed(store, partition, probe)
                #expect(found == expected, "partition \(partition) timestamp \(probe)", sourceLocation: sourceLocation)
            }
        }
    }

    func indexEntries(_ store: LogStore) throws -> Int {
        try store.read { try $0.lmdb.entryCount($0.core.timeIndex) }
    }

    @Test func agreesWithAScanThroughOutOfOrderTimestampsAndRetention() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 2)
        var generator = SeededGenerator(seed: 20261203)
        var timestamps = Set<Int64>()
        var clock: Int64 = 1_700_000_000_000
        for round in 0..<4 {
            for _ in 0..<40 {
                let partition = Int32.random(in: 0..<2, using: &generator)
                clock += Int64.random(in: -5_000...20_000, using: &generator)  // clocks go back too
                let records = (0..<Int.random(in: 1...3, using: &generator)).map { index in
                    let timestamp = clock + Int64.random(in: -3_000...3_000, using: &generator)
                    timestamps.insert(timestamp)
                    return record("k\(index)", "v", timestamp: timestamp)
                }
                try await store.append(topic: "t", partition: partition, records: records)
            }
            try expectAgreement(store, timestamps: timestamps)
            let removeCount = 3 + round
            try await store.write { transaction in
                for partition: Int32 in 0..<2 {
                    _ = try transaction.removeOldestBatches(topic: "t", record: transaction.topicRecord("t")!, partition: partition,
                                                            retentionMilliseconds: -1, retentionBytes: 0, budget: removeCount)
                }
            }
            try expectAgreement(store, timestamps: timestamps)
        }
        // Entries for removed batches go, but for the last one per partition.
        let batches = try #require(try store.describe(topic: "t")).partitions.reduce(0) { $0 + Int($1.batchCount) }
        #expect(try indexEntries(store) <= batches + 2)
        // Every batch removed: the kept entries still find later batches below the old maximum.
        try await store.write { transaction in
            for partition: Int32 in 0..<2 {
                _ = try transaction.removeOldestBatches(topic: "t", record: transaction.topicRecord("t")!, partition: partition,
                                                        retentionMilliseconds: -1, retentionBytes: 0, budget: 1_000)
            }
        }
        try await store.append(topic: "t", partition: 0, records: [record("late", "v", timestamp: 1_600_000_000_000)])
        #expect(try indexed(store, 0, 1_500_000_000_000) == bruteForce(store, 0, 1_500_000_000_000))
        #expect(try indexed(store, 0, 1_500_000_000_000) != nil)
        #expect(try indexed(store, 1, 0) == nil)
    }

    @Test func deletingATopicRemovesItsEntries() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 2)
        try await store.createTopic("kept", partitions: 1)
        for index in 0..<10 {
            try await store.append(topic: "t", partition: Int32(index % 2), records: [record("k", "v", timestamp: Int64(index))])
        }
        try await store.append(topic: "kept", partition: 0, records: [record("k", "v", timestamp: 5)])
        #expect(try indexEntries(store) == 11)
        _ = try await store.write { try $0.deleteTopic("t") }
        #expect(try indexEntries(store) == 1)
    }
}
