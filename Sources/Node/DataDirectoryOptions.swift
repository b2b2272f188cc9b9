import ArgumentParser
import Foundation
import LogStore
import Logging

/// `--data-dir`, falling back to `PAYNODE_DATA_DIR`, then `./data`.
struct DataDirectoryOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "The node's data directory (env: PAYNODE_DATA_DIR; default ./data).")
    var dataDirectory: String?

    @Option(name: .customLong("max-map-size"), help: "Upper bound of the store's map in bytes; appends fail retriably beyond it (env: PAYNODE_MAX_MAP_SIZE).")
    var maximumMapSize: Int?

    @Option(name: .customLong("max-partitions"), help: "Partitions the node holds in all; CreateTopics beyond it is refused (env: PAYNODE_MAX_PARTITIONS; default: what the named databases leave after the reserved ones, 3994).")
    var maximumPartitions: Int?

    @Option(name: .customLong("reserved-table-databases"), help: "Store databases partitions may never take, kept for the node's own tables (env: PAYNODE_RESERVED_TABLE_DATABASES; default 96).")
    var reservedTableDatabases: Int?

    @Option(name: .customLong("max-queued-writes"), help: "Writes waiting for the disk at most; more are refused retriably (Kafka REQUEST_TIMED_OUT, HTTP 503) (env: PAYNODE_MAX_QUEUED_WRITES; default 100000).")
    var maximumQueuedWrites: Int?

    @Option(name: .customLong("max-queued-write-bytes"), help: "Estimated bytes of the writes waiting for the disk at most (env: PAYNODE_MAX_QUEUED_WRITE_BYTES; default 1 GiB).")
    var maximumQueuedWriteBytes: Int?

    var resolvedDataDirectory: String {
        dataDirectory ?? ProcessInfo.processInfo.environment["PAYNODE_DATA_DIR"] ?? "./data"
    }

    func storeConfiguration() throws -> LogStoreConfiguration {
        var configuration = LogStoreConfiguration(dataDirectory: resolvedDataDirectory)
        let environmentMax = ProcessInfo.processInfo.environment["PAYNODE_MAX_MAP_SIZE"].flatMap(Int.init)
        if let maximum = maximumMapSize ?? environmentMax {
            configuration.maximumMapSize = maximum
            configuration.initialMapSize = min(configuration.initialMapSize, maximum)
        }
        if let limit = maximumPartitions ?? ProcessInfo.processInfo.environment["PAYNODE_MAX_PARTITIONS"].flatMap(Int.init) {
            configuration.partitionLimit = limit
        }
        if let reserved = reservedTableDatabases ?? ProcessInfo.processInfo.environment["PAYNODE_RESERVED_TABLE_DATABASES"].flatMap(Int.init) {
            configuration.reservedTableDatabases = reserved
        }
        if let queued = maximumQueuedWrites ?? ProcessInfo.processInfo.environment["PAYNODE_MAX_QUEUED_WRITES"].flatMap(Int.init) {
            configuration.maximumQueuedWrites = queued
        }
        if let bytes = maximumQueuedWriteBytes ?? ProcessInfo.processInfo.environment["PAYNODE_MAX_QUEUED_WRITE_BYTES"].flatMap(Int.init) {
            configuration.maximumQueuedWriteBytes = bytes
        }
        try configuration.validate()
        return configuration
    }

    /// Opens the store; `logLevel` nil keeps the level the node's logging was bootstrapped with.
    func openStore(logLevel: Logger.Level? = .warning) throws -> LogStore {
        var logger = Logger(label: "paynode.logstore")
        if let logLevel { logger.logLevel = logLevel }
        do {
            return try LogStore(configuration: try storeConfiguration(), logger: logger)
        } catch let error as LogStoreError {
            throw ValidationError(error.message)
        }
    }
}
