/// Every failure the store reports. `code` is stable and machine-readable (the broker maps it to
/// Kafka error codes); `message` names what failed and where (topic, partition, offset).
public struct LogStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case invalidTopicName
        case invalidPartitions
        case invalidConfiguration
        case topicAlreadyExists
        case unknownTopicOrPartition
        case offsetOutOfRange
        /// A stored batch failed its CRC-32C check: the bytes on disk are not what was written.
        case corruptBatch
        /// A batch handed to `appendBatch` is malformed or breaks Kafka's rules.
        case invalidRecord
        /// A batch handed to `appendBatch` fails its CRC-32C or its framing (sizes, truncation).
        case corruptMessage
        /// A batch handed to `appendBatch` is compressed with a codec the store cannot decode.
        case unsupportedCompression
        case recordTooLarge
        case outOfOrderSequence
        case invalidProducerEpoch
        /// The map reached its configured maximum or the disk is full. Retriable: committed data
        /// stays readable and appends succeed again once space is freed.
        case outOfSpace
        /// The group-commit queue is full (`maximumQueuedWrites` or `maximumQueuedWriteBytes`):
        /// the write was not attempted. Retriable after a back-off.
        case overloaded
        case tooManyPartitions
        case dataDirectoryInUse
        case incompatibleFormat
        case storeClosed
        case invalidArgument
        /// An unexpected LMDB or I/O failure; the message carries LMDB's text.
        case storageFailure
    }

    public var code: Code
    public var message: String
    /// For a refused batch: the index of the record to blame, when there is one.
    public var recordIndex: Int?

    public init(_ code: Code, _ message: String, recordIndex: Int? = nil) {
        self.code = code
        self.message = message
        self.recordIndex = recordIndex
    }

    public var isRetriable: Bool { code == .outOfSpace || code == .overloaded }

    public var description: String { "\(code.rawValue): \(message)" }
}

extension LogStoreError {
    init(_ error: LMDBError, context: String) {
        if error.isOutOfSpace {
            self.init(.outOfSpace, "no space left for \(context): \(error) (retriable once space is freed)")
        } else {
            self.init(.storageFailure, "\(context): \(error)")
        }
    }

    static func corruptMetadata(_ what: String) -> LogStoreError {
        LogStoreError(.storageFailure, "stored \(what) is malformed")
    }
}
