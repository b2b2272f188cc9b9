import Foundation
import Logging
import LogStore
import NIOCore
import PaynodeTestSupport
import Protocol

/// A fresh directory under the system temp dir, removed when the value is discarded by `cleanup()`.
struct TemporaryDirectory {
    let path: String

    init(_ name: String = "logstore") {
        path = NSTemporaryDirectory() + "paynode-test-\(name)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }

    func sub(_ name: String) -> String { path + "/" + name }
}

func testConfiguration(_ directory: String) -> LogStoreConfiguration {
    var configuration = LogStoreConfiguration(dataDirectory: directory)
    configuration.initialMapSize = 8 << 20
    configuration.retentionCheckIntervalMilliseconds = 0
    return configuration
}

func openStore(_ directory: String, _ adjust: (inout LogStoreConfiguration) -> Void = { _ in }) throws -> LogStore {
    var configuration = testConfiguration(directory)
    adjust(&configuration)
    var logger = Logger(label: "test")
    logger.logLevel = .warning
    return try LogStore(configuration: configuration, logger: logger)
}

func record(_ key: String?, _ value: String?, timestamp: Int64 = 1_700_000_000_000, headers: [RecordHeader] = []) -> Record {
    Record(timestamp: timestamp, key: key.map { Array($0.utf8) }, value: value.map { Array($0.utf8) }, headers: headers)
}

extension FetchResult {
    /// Every record of the fetched batches, decoded.
    func decodedRecords() throws -> [Record] {
        let (batches, _) = try RecordBatch.split(records)
        return try batches.flatMap { try RecordBatch.decodeRecords($0) }
    }
}

extension Record {
    var keyString: String? { key.map { String(decoding: $0, as: UTF8.self) } }
    var valueString: String? { value.map { String(decoding: $0, as: UTF8.self) } }
}

/// Reads every record of a partition from the start.
func allRecords(_ store: LogStore, _ topic: String, _ partition: Int32) throws -> [Record] {
    var records: [Record] = []
    var offset = try store.describe(topic: topic)!.partitions[Int(partition)].logStartOffset
    while true {
        let result = try store.read { try $0.fetch(topic: topic, partition: partition, offset: offset, maxBytes: 1 << 20) }
        if result.isEmpty { return records }
        let decoded = try result.decodedRecords().filter { $0.offset >= offset }
        records += decoded
        offset = decoded.last.map { $0.offset + 1 } ?? offset
    }
}

extension ChildProcess {
    /// A `LogStoreCrashTest` child (appends and commits in a loop, or holds a reader) that the
    /// test kills with SIGKILL.
    static func crashTest(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(executable: try BuiltProducts.executable("LogStoreCrashTest"), arguments: arguments)
    }
}
