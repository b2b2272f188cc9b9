import Dispatch
import Foundation
import NIOCore
import Protocol
import Synchronization
import Testing
@testable import LogStore

struct ExpectedFailure: Error {}

final class RefusalLog: Sendable {
    let errors = Mutex<[LogStoreError]>([])
}

@Suite("Transactions and group commit")
struct TransactionTests {
    @Test func appendsOffsetsAndTablesCommitTogetherOrNotAtAll() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        do {
            let store = try openStore(directory.path)
            try await store.createTopic("orders", partitions: 1)
            try await store.write { transaction in
                let result = try transaction.append(topic: "orders", partition: 0, records: [record("o1", "created")])
                try transaction.table("orders").put(Array("o1".utf8), Array("PENDING@\(result.baseOffset)".utf8))
                try transaction.commitOffset(group: "g", topic: "orders", partition: 0, offset: result.lastOffset + 1)
            }
            await #expect(throws: ExpectedFailure.self) {
                try await store.write { transaction in
                    try transaction.append(topic: "orders", partition: 0, records: [record("o2", "created")])
                    try transaction.table("orders").put(Array("o2".utf8), Array("PENDING".utf8))
                    try transaction.commitOffset(group: "g", topic: "orders", partition: 0, offset: 2)
                    throw ExpectedFailure()
                }
            }
            store.close()
        }
        let store = try openStore(directory.path)
        defer { store.close() }
        #expect(try allRecords(store, "orders", 0).map(\.keyString) == ["o1"])
        #expect(try store.committedOffset(group: "g", topic: "orders", partition: 0)?.offset == 1)
        let (o1, o2) = try store.read { transaction in
            (try transaction.table("orders")?.get(Array("o1".utf8)), try transaction.table("orders")?.get(Array("o2".utf8)))
        }
        #expect(o1.map { String(decoding: $0, as: UTF8.self) } == "PENDING@0")
        #expect(o2 == nil)
    }

    @Test func manyConcurrentCallersShareCommitsAndOneFailureLosesNothingElse() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 1)
        let commitsBefore = try store.statistics().commits
        let callers = 300
        let failing: Set<Int> = [17, 150]
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for caller in 0..<callers {
                group.addTask {
                    do {
                        try await store.write { transaction in
                            try transaction.append(topic: "t", partition: 0, records: [record("c\(caller)", "v")])
                            try transaction.table("callers").put(UInt32(caller).bigEndianBytes, [1])
                            // Fails after writing, so the writer must abort and replay the others.
                            if failing.contains(caller) { throw ExpectedFailure() }
                        }
                        return (caller, true)
                    } catch {
                        return (caller, false)
                    }
                }
            }
            var outcomes: [Int: Bool] = [:]
            for await (caller, succeeded) in group { outcomes[caller] = succeeded }
            return outcomes
        }
        #expect(outcomes.filter { !$0.value }.keys.sorted() == failing.sorted())
        let records = try allRecords(store, "t", 0)
        #expect(records.count == callers - failing.count)
        #expect(records.map(\.offset) == (0..<Int64(callers - failing.count)).map { $0 })
        let keys = Set(records.compactMap(\.keyString))
        for caller in 0..<callers {
            #expect(keys.contains("c\(caller)") == !failing.contains(caller))
        }
        #expect(try store.read { try $0.table("callers")?.count() } == callers - failing.count)
        let commits = try store.statistics().commits - commitsBefore
        #expect(commits < callers / 2, "expected callers to share commits, got \(commits) commits for \(callers) callers")
    }

    @Test func failureWithoutWritesKeepsTheGroupsTransaction() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        try await store.createTopic("t", partitions: 1)
        let results = await withTaskGroup(of: Bool.self) { group in
            for caller in 0..<50 {
                group.addTask {
                    do {
                        try await store.append(topic: caller % 10 == 0 ? "missing" : "t", partition: 0, records: [record("c\(caller)", "v")])
                        return true
                    } catch { return false }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 45)
        #expect(try allRecords(store, "t", 0).count == 45)
    }

    @Test func applicationTables() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        #expect(try store.read { $0.table("history") } == nil)
        try await store.write { transaction in
            let table = try transaction.table("history")
            for index: UInt64 in 1...5 { try table.append(index.bigEndianBytes, Array("entry \(index)".utf8)) }
            try table.put(Array("z".utf8), [9])
            #expect(try table.delete(Array("z".utf8)))
            #expect(try !table.delete(Array("z".utf8)))
            // Appending a key that is not the greatest is refused.
            #expect(throws: LogStoreError.self) { try table.append(UInt64(3).bigEndianBytes, [0]) }
        }
        let (entries, last, count) = try store.read { transaction in
            let table = try #require(transaction.table("history"))
            return (try table.scan(from: UInt64(2).bigEndianBytes, limit: 2), try table.last(), try table.count())
        }
        #expect(entries.map { String(decoding: $0.value, as: UTF8.self) } == ["entry 2", "entry 3"])
        #expect(last.map { String(decoding: $0.value, as: UTF8.self) } == "entry 5")
        #expect(count == 5)
    }

    @Test func deferredSyncModeKeepsCommittedWrites() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        do {
            let store = try openStore(directory.path) { $0.durability = .deferredSync(intervalMilliseconds: 50) }
            try await store.createTopic("t", partitions: 1)
            for index in 0..<20 { try await store.append(topic: "t", partition: 0, records: [record("k\(index)", "v")]) }
            store.close()
        }
        let store = try openStore(directory.path)
        defer { store.close() }
        #expect(try allRecords(store, "t", 0).count == 20)
    }

    @Test func hotBackupIsAConsistentCopy() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.sub("live"))
        try await store.createTopic("t", partitions: 1)
        try await store.append(topic: "t", partition: 0, records: (0..<10).map { record("k\($0)", "v") })
        try await store.commitOffset(group: "g", topic: "t", partition: 0, offset: 10)
        try FileManager.default.createDirectory(atPath: directory.sub("backup"), withIntermediateDirectories: true)
        try store.backup(to: directory.sub("backup"))
        try await store.append(topic: "t", partition: 0, records: [record("after", "backup")])
        store.close()
        let restored = try openStore(directory.sub("backup"))
        defer { restored.close() }
        #expect(try allRecords(restored, "t", 0).count == 10)
        #expect(try restored.committedOffset(group: "g", topic: "t", partition: 0)?.offset == 10)
    }

    @Test func aNewerFormatIsRefused() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        do {
            let store = try openStore(directory.path)
            try await store.write { transaction in
                try transaction.recordingWrite {
                    try transaction.lmdb.put(transaction.core.meta, key: StoreKeys.formatVersion, value: UInt32(99).bigEndianBytes)
                }
            }
            store.close()
        }
        do {
            _ = try openStore(directory.path)
            Issue.record("opened a newer format")
        } catch let error as LogStoreError {
            #expect(error.code == .incompatibleFormat)
            #expect(error.message.contains("99"))
        }
    }

    /// The group-commit queue is bounded: while the writer is busy, writes beyond
    /// `maximumQueuedWrites` or `maximumQueuedWriteBytes` are refused at once with the retriable
    /// `.overloaded` (and counted), the queued ones still commit, and the store takes writes
    /// again once the queue drains.
    @Test func aFullWriteQueueRefusesMoreWritesAndDrains() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path) {
            $0.maximumCallersPerCommit = 1
            $0.maximumQueuedWrites = 2
            $0.maximumBatchBytes = 1024
            $0.maximumQueuedWriteBytes = 4096
        }
        defer { store.close() }
        let inWriter = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        // Holds the writer thread inside its transaction.
        let blocker = Task {
            try await store.write { transaction in
                inWriter.signal()
                release.wait()
                try transaction.table("t").put([0], [0])
            }
        }
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { inWriter.wait(); continuation.resume() }
        }
        // Three writes while the writer is held: two fit the queue, the third is refused at once.
        let refusals = RefusalLog()
        let writes = (1...3).map { index in
            Task {
                do {
                    try await store.write(estimatedBytes: 1000) { try $0.table("t").put([UInt8(index)], [1]) }
                    return true
                } catch let error as LogStoreError where error.code == .overloaded {
                    refusals.errors.withLock { $0.append(error) }
                    return false
                }
            }
        }
        for _ in 0..<2000 where refusals.errors.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(5)) }
        let refusal = refusals.errors.withLock { $0.first }
        #expect(refusal?.isRetriable == true)
        #expect(refusal?.message.contains("maximumQueuedWrites 2") == true)
        release.signal()
        try await blocker.value
        var accepted: [Int] = []
        for (index, task) in writes.enumerated() {
            if try await task.value { accepted.append(index + 1) }
        }
        #expect(accepted.count == 2)
        // Drained: writes are taken again, and a write larger than the byte bound is taken
        // when nothing else waits.
        try await store.write(estimatedBytes: 10_000) { try $0.table("t").put([7], [7]) }
        let stored = try store.read { transaction in try (0...7).filter { try transaction.table("t")?.get([UInt8($0)]) != nil } }
        #expect(stored == [0] + accepted + [7])
    }

    @Test func queueLimitsBelowOneCommitAreInvalid() {
        var configuration = LogStoreConfiguration(dataDirectory: "/tmp/x")
        configuration.maximumQueuedWrites = configuration.maximumCallersPerCommit - 1
        #expect(throws: LogStoreError.self) { try configuration.validate() }
        configuration = LogStoreConfiguration(dataDirectory: "/tmp/x")
        configuration.maximumQueuedWriteBytes = configuration.maximumBatchBytes - 1
        #expect(throws: LogStoreError.self) { try configuration.validate() }
    }

    @Test func closedStoreRefusesWork() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        store.close()
        await #expect(throws: LogStoreError.self) { try await store.createTopic("t", partitions: 1) }
        #expect(throws: LogStoreError.self) { try store.topics() }
    }
}

/// A read that began before a table was created must not get its handle: LMDB refuses a handle
/// newer than the read's snapshot (cursor_open EINVAL), which once made an order GET racing the
/// consumer's first commit answer 500.
@Suite("Handles and snapshots")
struct HandleSnapshotTests {
    @Test func aTableCreatedAfterAReadBeganIsMissingInThatRead() async throws {
        let directory = TemporaryDirectory(); defer { directory.cleanup() }
        let store = try openStore(directory.path)
        defer { store.close() }
        let started = Atomic<Bool>(false)
        let proceed = DispatchSemaphore(value: 0)
        let seen = Mutex<(missing: Bool, readable: Bool)?>(nil)
        DispatchQueue.global().async {
            let outcome = try? store.read { transaction -> (missing: Bool, readable: Bool) in
                started.store(true, ordering: .sequentiallyConsistent)
                proceed.wait()
                let table = transaction.table("late")
                return (table == nil, (try? table?.get([1])) != nil)
            }
            seen.withLock { $0 = outcome ?? (false, false) }
        }
        while !started.load(ordering: .sequentiallyConsistent) { try await Task.sleep(for: .milliseconds(5)) }
        try await store.write { try $0.table("late").put([1], [2]) }
        proceed.signal()
        while seen.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(5)) }
        #expect(seen.withLock { $0 }?.missing == true)
        #expect(try store.read { try $0.table("late")?.get([1]) } == [2])
    }
}
