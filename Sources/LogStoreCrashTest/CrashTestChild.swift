import CLMDB
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif
import LogStore
import Protocol
import Synchronization

/// The child process of the SIGKILL crash test (Tests/LogStoreTests/CrashTests.swift).
///
/// `LogStoreCrashTest append DIR`: appends, writes an application table and commits group
/// offsets in one transaction per write, from several concurrent writers, forever; after each
/// write is durable it prints `ACK <n>` with a raw write(2), so nothing acknowledged sits in a
/// stdio buffer when the test kills it.
/// `LogStoreCrashTest hold-reader DIR`: opens the environment with plain LMDB, as a backup or
/// inspection tool would (no data-directory lock), starts a read transaction and waits to be
/// killed, leaving a stale reader slot behind.
@main
struct CrashTestChild {
    static let topic = "crash"
    static let partitions = 3
    static let group = "crash-group"
    static let table = "acks"
    static let concurrentWriters = 8

    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count == 3 else {
            FileHandle.standardError.write(Data("usage: LogStoreCrashTest append|hold-reader DATA_DIR\n".utf8))
            exit(2)
        }
        var configuration = LogStoreConfiguration(dataDirectory: arguments[2])
        configuration.initialMapSize = 4 << 20
        configuration.retentionCheckIntervalMilliseconds = 0
        switch arguments[1] {
        case "append":
            var logger = Logger(label: "crash-child")
            logger.logLevel = .warning
            try await appendForever(try LogStore(configuration: configuration, logger: logger))
        case "hold-reader":
            holdReader(directory: arguments[2])
        default:
            FileHandle.standardError.write(Data("unknown mode \(arguments[1])\n".utf8))
            exit(2)
        }
    }

    static func appendForever(_ store: LogStore) async throws {
        if try store.describe(topic: topic) == nil {
            try await store.createTopic(topic, partitions: partitions)
        }
        // Continue after the highest number any earlier run committed.
        let start: UInt64 = try store.read { transaction in
            guard let last = try transaction.table(table)?.last() else { return 0 }
            return (UInt64(bigEndianBytes: last.key) ?? 0) + 1
        }
        let counter = WriteCounter(start)
        say("READY")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrentWriters {
                group.addTask {
                    while true {
                        let number = counter.next()
                        try await writeOne(number, store: store)
                        say("ACK \(number)")
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    static func writeOne(_ number: UInt64, store: LogStore) async throws {
        let partition = Int32(number % UInt64(partitions))
        // Several records per write, so batches span offsets.
        let recordCount = Int(number % 3) + 1
        let records = (0..<recordCount).map { index in
            Record(timestamp: -1, key: Array("k\(number)".utf8), value: Array("v\(number)-\(index)".utf8))
        }
        try await store.write { transaction in
            let result = try transaction.append(topic: topic, partition: partition, records: records)
            let entry = UInt32(bitPattern: partition).bigEndianBytes + UInt64(bitPattern: result.baseOffset).bigEndianBytes
                + UInt32(recordCount).bigEndianBytes
            try transaction.table(table).put(number.bigEndianBytes, entry)
            try transaction.commitOffset(group: group, topic: topic, partition: partition,
                                         offset: result.lastOffset + 1, metadata: "write \(number)")
        }
    }

    static func holdReader(directory: String) {
        var environment: OpaquePointer?
        var transaction: OpaquePointer?
        guard mdb_env_create(&environment) == 0,
              mdb_env_set_maxdbs(environment, 4096) == 0,
              mdb_env_open(environment, directory, UInt32(MDB_RDONLY | MDB_NOTLS), 0o644) == 0,
              mdb_txn_begin(environment, nil, UInt32(MDB_RDONLY), &transaction) == 0 else {
            FileHandle.standardError.write(Data("cannot open \(directory) read-only\n".utf8))
            exit(4)
        }
        say("READY")
        while true { sleep(60) }
    }

    static func say(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        bytes.withUnsafeBytes { raw in
            var written = 0
            while written < raw.count {
                let count = Glibc.write(1, raw.baseAddress! + written, raw.count - written)
                if count <= 0 { exit(3) }
                written += count
            }
        }
    }
}

final class WriteCounter: Sendable {
    private let value: Atomic<UInt64>
    init(_ start: UInt64) { value = Atomic(start) }
    func next() -> UInt64 { value.add(1, ordering: .relaxed).oldValue }
}
