import Foundation
import NIOCore
import Protocol
import Testing
@testable import LogStore

@Suite("Topics and partitions")
struct TopicTests {
    @Test func createListDescribe() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        try await store.createTopic("payments", partitions: 3)
        try await store.createTopic("a.b_c-1", partitions: 1, configuration: TopicConfiguration(retentionMilliseconds: 60_000, retentionBytes: -1))
        #expect(try store.topics() == ["a.b_c-1", "payments"])
        let description = try #require(try store.describe(topic: "payments"))
        #expect(description.partitionCount == 3)
        #expect(description.partitions.allSatisfy { $0.logStartOffset == 0 && $0.highWatermark == 0 })
        #expect(try store.describe(topic: "a.b_c-1")?.configuration.retentionMilliseconds == 60_000)
        #expect(try store.describe(topic: "missing") == nil)
        store.close()
        // Topics survive a restart.
        let reopened = try openStore(directory.path)
        #expect(try reopened.topics() == ["a.b_c-1", "payments"])
        reopened.close()
    }

    @Test(arguments: ["", ".", "..", "has space", "slash/name", "ü", String(repeating: "x", count: 250), "colon:name"])
    func invalidNamesAreRejected(name: String) async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        await #expect(throws: LogStoreError.self) { try await store.createTopic(name, partitions: 1) }
        do {
            try await store.createTopic(name, partitions: 1)
        } catch let error as LogStoreError {
            #expect(error.code == .invalidTopicName)
        }
        #expect(try store.topics().isEmpty)
    }

    @Test func longestLegalNameAndDuplicates() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        let name = String(repeating: "n", count: 249)
        try await store.createTopic(name, partitions: 2)
        do {
            try await store.createTopic(name, partitions: 2)
            Issue.record("duplicate topic was created")
        } catch let error as LogStoreError {
            #expect(error.code == .topicAlreadyExists)
        }
        for count in [0, -1, 100_001] {
            do {
                try await store.createTopic("t\(abs(count))", partitions: count)
                Issue.record("partition count \(count) accepted")
            } catch let error as LogStoreError {
                #expect(error.code == .invalidPartitions)
            }
        }
    }

    @Test func partitionLimitIsAClearError() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path) { $0.maximumDatabases = 20; $0.reservedTableDatabases = 0 }
        defer { store.close() }
        try await store.createTopic("fits", partitions: 10)
        do {
            try await store.createTopic("too-many", partitions: 10)
            Issue.record("exceeded maximumDatabases")
        } catch let error as LogStoreError {
            #expect(error.code == .tooManyPartitions)
            #expect(error.message.contains("maximumDatabases"))
        }
        try await store.append(topic: "fits", partition: 9, records: [record("k", "v")])
    }

    /// Partitions stop at maximumPartitions, so application tables still open once clients have
    /// created every partition they may: a node's own tables never fail for lack of databases.
    @Test func reservedDatabasesKeepApplicationTablesOpenable() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path) { $0.maximumDatabases = CoreDatabases.count + 25; $0.reservedTableDatabases = 10 }  // 15 partitions
        defer { store.close() }
        #expect(store.configuration.maximumPartitions == 15)
        try await store.createTopic("most", partitions: 12)
        do {
            try await store.createTopic("over-budget", partitions: 4)
            Issue.record("exceeded maximumPartitions")
        } catch let error as LogStoreError {
            #expect(error.code == .tooManyPartitions)
            #expect(error.message.contains("maximumPartitions=15"))
        }
        #expect(try store.describe(topic: "over-budget") == nil)
        try await store.createTopic("rest", partitions: 3)
        #expect(store.partitionCapacity == (used: 15, maximum: 15))
        // Every reserved database still opens as an application table.
        try await store.write { transaction in
            for index in 0..<10 { try transaction.table("t\(index)").put([1], [2]) }
        }
        #expect(try store.read { try $0.table("t9")?.get([1]) } == [2])
    }

    @Test func deleteTopicFreesNameAndOffsets() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("gone", partitions: 1)
        try await store.append(topic: "gone", partition: 0, records: [record("k", "v")])
        try await store.commitOffset(group: "g", topic: "gone", partition: 0, offset: 1)
        let deleted = try await store.write { try $0.deleteTopic("gone") }
        #expect(deleted)
        #expect(try store.describe(topic: "gone") == nil)
        #expect(try store.committedOffset(group: "g", topic: "gone", partition: 0) == nil)
        try await store.createTopic("gone", partitions: 1)
        let result = try await store.append(topic: "gone", partition: 0, records: [record("k2", "v2")])
        #expect(result.baseOffset == 0)
        #expect(try allRecords(store, "gone", 0).map(\.keyString) == ["k2"])
    }

    @Test func secondOpenOfADirectoryIsRefused() throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        do {
            _ = try openStore(directory.path)
            Issue.record("opened the same directory twice")
        } catch let error as LogStoreError {
            #expect(error.code == .dataDirectoryInUse)
            #expect(error.message.contains("\(getpid())"))
        }
        store.close()
        let again = try openStore(directory.path)
        again.close()
    }

    @Test func invalidConfigurationIsNamed() {
        var configuration = LogStoreConfiguration(dataDirectory: "/tmp/x")
        configuration.maximumMapSize = 1 << 20
        configuration.initialMapSize = 2 << 20
        #expect(throws: LogStoreError.self) { try configuration.validate() }
        do { try configuration.validate() } catch {
            #expect(error.message.contains("maximumMapSize"))
        }
    }
}

@Suite("Append and read")
struct AppendReadTests {
    @Test func offsetsAreDenseAndRecordsRoundTrip() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        try await store.createTopic("t", partitions: 2)
        let first = try await store.append(topic: "t", partition: 0, records: [
            record("k1", "v1", headers: [RecordHeader(key: "traceparent", value: Array("00-abc".utf8)), RecordHeader(key: "n", value: nil)]),
            record(nil, "v2"),
            record("k3", nil),
        ])
        #expect(first.baseOffset == 0 && first.lastOffset == 2)
        let second = try await store.append(topic: "t", partition: 0, records: [record("k4", "v4")])
        #expect(second.baseOffset == 3 && second.lastOffset == 3)
        let other = try await store.append(topic: "t", partition: 1, records: [record("x", "y")])
        #expect(other.baseOffset == 0)

        let records = try allRecords(store, "t", 0)
        #expect(records.map(\.offset) == [0, 1, 2, 3])
        #expect(records.map(\.keyString) == ["k1", nil, "k3", "k4"])
        #expect(records.map(\.valueString) == ["v1", "v2", nil, "v4"])
        #expect(records[0].headers == [RecordHeader(key: "traceparent", value: Array("00-abc".utf8)), RecordHeader(key: "n", value: nil)])
        #expect(records[0].timestamp == 1_700_000_000_000)
        store.close()

        // Offsets continue after a restart, never reused.
        let reopened = try openStore(directory.path)
        defer { reopened.close() }
        let third = try await reopened.append(topic: "t", partition: 0, records: [record("k5", "v5")])
        #expect(third.baseOffset == 4)
        #expect(try reopened.describe(topic: "t")?.partitions[0].highWatermark == 5)
    }

    @Test func unknownTopicOrPartition() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 1)
        for (topic, partition) in [("nope", Int32(0)), ("t", 1), ("t", -1)] {
            do {
                try await store.append(topic: topic, partition: partition, records: [record("k", "v")])
                Issue.record("append to \(topic)-\(partition) succeeded")
            } catch let error as LogStoreError {
                #expect(error.code == .unknownTopicOrPartition)
            }
        }
    }

    @Test func readFromTheMiddleOfABatchReturnsTheWholeBatch() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 1)
        try await store.append(topic: "t", partition: 0, records: (0..<5).map { record("k\($0)", "v\($0)") })
        try await store.append(topic: "t", partition: 0, records: (5..<10).map { record("k\($0)", "v\($0)") })
        let result = try await store.fetch(topic: "t", partition: 0, offset: 7)
        #expect(result.batchCount == 1)
        let records = try result.decodedRecords()
        #expect(records.first?.offset == 5)
        #expect(records.map(\.offset) == Array(5...9))
        #expect(result.highWatermark == 10)
        let fromThree = try await store.fetch(topic: "t", partition: 0, offset: 3)
        #expect(try fromThree.decodedRecords().first?.offset == 0)
        #expect(fromThree.batchCount == 2)
    }

    @Test func byteLimitReturnsAtLeastOneWholeBatch() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 1)
        for index in 0..<4 {
            try await store.append(topic: "t", partition: 0, records: [record("k\(index)", String(repeating: "x", count: 1000))])
        }
        let one = try await store.fetch(topic: "t", partition: 0, offset: 0, maxBytes: 10)
        #expect(one.batchCount == 1)
        let batchSize = one.records.readableBytes
        let two = try await store.fetch(topic: "t", partition: 0, offset: 0, maxBytes: batchSize * 2 + 10)
        #expect(two.batchCount == 2)
        let (batches, truncated) = try RecordBatch.split(two.records)
        #expect(batches.count == 2 && !truncated)
        let all = try await store.fetch(topic: "t", partition: 0, offset: 0, maxBytes: 1 << 20)
        #expect(all.batchCount == 4)
    }

    @Test func offsetsOutsideTheLogAreOutOfRange() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 1)
        try await store.append(topic: "t", partition: 0, records: [record("k", "v")])
        let atEnd = try await store.fetch(topic: "t", partition: 0, offset: 1)
        #expect(atEnd.isEmpty && atEnd.highWatermark == 1)
        for offset: Int64 in [2, -1, 1000] {
            do {
                _ = try await store.fetch(topic: "t", partition: 0, offset: offset)
                Issue.record("offset \(offset) was in range")
            } catch let error as LogStoreError {
                #expect(error.code == .offsetOutOfRange)
            }
        }
    }

    @Test func longPollWakesOnAppendAndTimesOutEmpty() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 1)

        let clock = ContinuousClock()
        let started = clock.now
        let empty = try await store.fetch(topic: "t", partition: 0, offset: 0, maxWait: .milliseconds(200))
        #expect(empty.isEmpty)
        #expect(clock.now - started >= .milliseconds(190))

        async let waited = store.fetch(topic: "t", partition: 0, offset: 0, maxWait: .seconds(30))
        try await Task.sleep(for: .milliseconds(100))
        let appendedAt = clock.now
        try await store.append(topic: "t", partition: 0, records: [record("k", "v")])
        let result = try await waited
        #expect(try result.decodedRecords().map(\.keyString) == ["k"])
        #expect(clock.now - appendedAt < .seconds(5))
    }

    @Test func gzipBatchesAreStoredAsTheyAreAndDecoded() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 1)
        let records = (0..<50).map { record("k\($0)", String(repeating: "payment \($0) ", count: 20)) }
        try await store.append(topic: "t", partition: 0, records: records, compression: .gzip)
        let fetched = try await store.fetch(topic: "t", partition: 0, offset: 0)
        let header = try RecordBatch.peekHeader(fetched.records)
        #expect(header.compression == .gzip)
        #expect(fetched.records.readableBytes < 50 * 200 / 4)
        #expect(try fetched.decodedRecords().map(\.valueString) == records.map(\.valueString))

        // A client's gzip batch is kept byte for byte (but for the base offset).
        var clientBatch = try RecordBatch.encode(records: records, producerId: -1, compression: .gzip)
        _ = try await store.appendBatch(topic: "t", partition: 0, batch: clientBatch)
        let second = try await store.fetch(topic: "t", partition: 0, offset: 50)
        RecordBatch.setBaseOffset(50, in: &clientBatch)
        #expect(second.records == clientBatch)
    }

    /// Offset density is checked where it is relied on: a stored batch whose own base offset
    /// field (outside the CRC) disagrees with the key it is stored under is refused by fetch.
    @Test func aBatchWhoseBaseOffsetFieldChangedIsRefused() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let marker = "MOVE-MY-BASE-OFFSET-0123456789"
        do {
            let store = try openStore(directory.path)
            try await store.createTopic("t", partitions: 1)
            try await store.append(topic: "t", partition: 0, records: [record("a", "first")])
            try await store.append(topic: "t", partition: 0, records: [record("b", marker)])
            store.close()
        }
        let file = directory.path + "/data.mdb"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        let markerAt = try #require(bytes.range(of: Data(marker.utf8))).lowerBound
        // The batch starts shortly before its only record's value: base offset 1, magic 2.
        let start = try #require((markerAt - 90..<markerAt - RecordBatchHeader.size).first { index in
            bytes[index..<index + 8].elementsEqual([0, 0, 0, 0, 0, 0, 0, 1]) && bytes[index + 16] == 2
        })
        bytes[start + 7] = 5
        try bytes.write(to: URL(fileURLWithPath: file))

        let store = try openStore(directory.path)
        defer { store.close() }
        #expect(try await store.fetch(topic: "t", partition: 0, offset: 0, maxBytes: 1).batchCount == 1)
        do {
            _ = try await store.fetch(topic: "t", partition: 0, offset: 1)
            Issue.record("a batch under the wrong offset was returned")
        } catch let error as LogStoreError {
            #expect(error.code == .corruptBatch && error.message.contains("base offset field says 5"))
        }
    }

    /// The partition state and the log must agree: an append refuses to add offsets after a
    /// state whose next offset is not where the last batch ends, and fetch refuses a batch that
    /// ends past the state's end, instead of serving or writing overlapping offsets.
    @Test func aPartitionStateThatDisagreesWithTheLogIsRefused() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 1)
        try await store.append(topic: "t", partition: 0, records: [record("a", "1"), record("b", "2"), record("c", "3")])
        try await store.write { transaction in
            let topic = try transaction.requirePartition("t", 0)
            var state = try transaction.partitionState(topicID: topic.topicID, partition: 0)
            state.nextOffset = 1
            try transaction.lmdb.put(transaction.core.partitions, key: StoreKeys.partition(topicID: topic.topicID, partition: 0),
                                     value: state.encoded())
        }
        do {
            try await store.append(topic: "t", partition: 0, records: [record("d", "4")])
            Issue.record("an append after a disagreeing partition state was accepted")
        } catch let error as LogStoreError {
            #expect(error.code == .storageFailure && error.message.contains("partition state and log disagree"))
        }
        do {
            _ = try await store.fetch(topic: "t", partition: 0, offset: 0)
            Issue.record("a batch past the partition's end was returned")
        } catch let error as LogStoreError {
            #expect(error.code == .corruptBatch && error.message.contains("past the partition's end 1"))
        }
    }

    @Test func aFlippedByteIsDetectedAndNamed() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let marker = "CORRUPT-ME-PLEASE-0123456789"
        do {
            let store = try openStore(directory.path)
            try await store.createTopic("t", partitions: 1)
            try await store.append(topic: "t", partition: 0, records: [record("a", "clean")])
            try await store.append(topic: "t", partition: 0, records: [record("b", marker)])
            store.close()
        }
        let file = directory.path + "/data.mdb"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        let range = try #require(bytes.range(of: Data(marker.utf8)))
        bytes[range.lowerBound + 3] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: file))

        let store = try openStore(directory.path)
        defer { store.close() }
        let clean = try await store.fetch(topic: "t", partition: 0, offset: 0, maxBytes: 1)
        #expect(clean.batchCount == 1)
        do {
            _ = try await store.fetch(topic: "t", partition: 0, offset: 1)
            Issue.record("corrupt batch was returned")
        } catch let error as LogStoreError {
            #expect(error.code == .corruptBatch)
            #expect(error.message.contains("t-0"))
            #expect(error.message.contains("offset 1"))
        }
    }
}
