import Foundation
import NIOCore
import PaynodeTestSupport
import Protocol
import Testing
@testable import LogStore

@Suite("Space and retention")
struct SpaceAndRetentionTests {
    @Test func theMapGrowsOnDemand() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path) {
            $0.initialMapSize = 1 << 20
            $0.maximumMapSize = 64 << 20
        }
        defer { store.close() }
        try await store.createTopic("t", partitions: 1)
        let value = String(repeating: "x", count: 4000)
        for index in 0..<100 {
            try await store.append(topic: "t", partition: 0, records: (0..<10).map { record("k\(index)-\($0)", value) })
        }
        let statistics = try store.statistics()
        #expect(statistics.mapSizeBytes > 1 << 20)
        #expect(try allRecords(store, "t", 0).count == 1000)
    }

    @Test func aFullStoreFailsRetriablyKeepsDataAndRecovers() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path) {
            $0.initialMapSize = 1 << 20
            $0.maximumMapSize = 4 << 20
        }
        defer { store.close() }
        try await store.createTopic("t", partitions: 1, configuration: TopicConfiguration(retentionBytes: 256 << 10))
        let value = String(repeating: "y", count: 8000)
        var acknowledged = 0
        var fullError: LogStoreError?
        for index in 0..<2000 {
            do {
                try await store.append(topic: "t", partition: 0, records: (0..<4).map { record("k\(index)-\($0)", value) })
                acknowledged += 4
            } catch let error as LogStoreError {
                fullError = error
                break
            }
        }
        let error = try #require(fullError, "the store never filled up")
        #expect(error.code == .outOfSpace)
        #expect(error.isRetriable)
        // Everything acknowledged is intact and readable.
        let records = try allRecords(store, "t", 0)
        #expect(records.count == acknowledged)
        #expect(records.map(\.offset) == (0..<Int64(acknowledged)).map { $0 })
        // Reads and offset commits that need no new pages still work... and once retention frees
        // space, appends succeed again.
        let removed = try await store.applyRetention()
        #expect(removed > 0)
        // Freed pages become reusable once the transaction that freed them is older than every
        // reader; a few small commits move LMDB past it.
        for _ in 0..<3 { try await store.commitOffset(group: "g", topic: "t", partition: 0, offset: 0) }
        let after = try await store.append(topic: "t", partition: 0, records: [record("after", value)])
        #expect(after.baseOffset == Int64(acknowledged))
    }

    @Test func sizeRetentionKeepsTheFileBounded() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path) { $0.initialMapSize = 64 << 20 }
        defer { store.close() }
        let retentionBytes: Int64 = 512 << 10
        try await store.createTopic("t", partitions: 2, configuration: TopicConfiguration(retentionBytes: retentionBytes))
        let value = String(repeating: "z", count: 1000)
        var fileSizes: [Int] = []
        // 40 MB through a 1 MB retained log.
        for round in 0..<40 {
            for index in 0..<20 {
                try await store.append(topic: "t", partition: Int32(index % 2), records: (0..<50).map { record("k\(round)-\(index)-\($0)", value) })
            }
            try await store.applyRetention()
            fileSizes.append(try store.statistics().fileSizeBytes)
        }
        let description = try #require(try store.describe(topic: "t"))
        for partition in description.partitions {
            #expect(partition.sizeBytes >= retentionBytes)
            #expect(partition.sizeBytes < retentionBytes + 2 * 60_000)
            #expect(partition.logStartOffset > 0)
        }
        // The file stops growing once freed pages are reused: the last half of the run adds nothing
        // beyond a small slack.
        let settled = fileSizes[fileSizes.count / 2]
        #expect(fileSizes.last! <= settled + (1 << 20), "file grew from \(settled) to \(fileSizes.last!)")
        #expect(fileSizes.last! < 8 << 20)
        // Reading below the log start is out of range; from the start works.
        let start = description.partitions[0].logStartOffset
        await #expect(throws: LogStoreError.self) { _ = try await store.fetch(topic: "t", partition: 0, offset: start - 1) }
        let first = try await store.fetch(topic: "t", partition: 0, offset: start)
        #expect(try first.decodedRecords().first?.offset == start)
    }

    @Test func timeRetentionRemovesOldBatchesAndKeepsOffsets() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 1, configuration: TopicConfiguration(retentionMilliseconds: 60_000))
        let now = currentTimeMilliseconds()
        try await store.append(topic: "t", partition: 0, records: [record("old1", "v", timestamp: now - 3_600_000)])
        try await store.append(topic: "t", partition: 0, records: [record("old2", "v", timestamp: now - 120_000)])
        try await store.append(topic: "t", partition: 0, records: [record("new", "v", timestamp: now)])
        #expect(try await store.applyRetention() == 2)
        let partition = try #require(try store.describe(topic: "t")?.partitions[0])
        #expect(partition.logStartOffset == 2 && partition.highWatermark == 3 && partition.batchCount == 1)
        #expect(try allRecords(store, "t", 0).map(\.keyString) == ["new"])
        // Everything expired: the log is empty but offsets go on.
        try await store.write { transaction in
            _ = try transaction.removeOldestBatches(topic: "t", record: transaction.topicRecord("t")!, partition: 0,
                                                    retentionMilliseconds: 0, retentionBytes: -1, budget: 10)
        }
        let empty = try #require(try store.describe(topic: "t")?.partitions[0])
        #expect(empty.logStartOffset == 3 && empty.highWatermark == 3)
        #expect(try await store.append(topic: "t", partition: 0, records: [record("next", "v")]).baseOffset == 3)
    }

    @Test func staleReaderSlotsOfDeadProcessesAreCleared() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        do {
            let store = try openStore(directory.path)
            try await store.createTopic("t", partitions: 1)
            store.close()
        }
        // One reader stays alive (so LMDB does not reset its reader table at the next open);
        // another dies holding its slot.
        let survivor = try ChildProcess.crashTest(["hold-reader", directory.path])
        try survivor.waitForLine("READY", timeout: .seconds(60))
        let victim = try ChildProcess.crashTest(["hold-reader", directory.path])
        try victim.waitForLine("READY", timeout: .seconds(60))
        victim.kill()
        let store = try openStore(directory.path)
        defer { store.close() }
        #expect(try store.statistics().staleReadersCleared == 1)
        survivor.kill()
        #expect(try store.clearStaleReaders() == 1)
        #expect(try store.clearStaleReaders() == 0)
    }
}
