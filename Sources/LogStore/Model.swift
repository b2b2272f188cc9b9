import NIOCore

public struct TopicPartition: Sendable, Hashable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)-\(partition)" }
}

/// Per-topic settings; -1 means "use the store default" for retention.
public struct TopicConfiguration: Sendable, Hashable {
    public var retentionMilliseconds: Int64
    public var retentionBytes: Int64
    /// The largest batch a Kafka producer may append to the topic (Kafka's `max.message.bytes`);
    /// -1: the store's `maximumBatchBytes`, which also bounds any value set here.
    public var maximumMessageBytes: Int64
    /// The Protocol Buffers message every record's value must be (`paynode.value.schema`, a
    /// full message name); nil: any value. Checked by the broker at produce.
    public var valueSchema: String?

    public init(retentionMilliseconds: Int64 = -1, retentionBytes: Int64 = -1, maximumMessageBytes: Int64 = -1, valueSchema: String? = nil) {
        self.retentionMilliseconds = retentionMilliseconds
        self.retentionBytes = retentionBytes
        self.maximumMessageBytes = maximumMessageBytes
        self.valueSchema = valueSchema
    }
}

public struct PartitionDescription: Sendable, Hashable {
    public var partition: Int32
    /// First offset still in the log (advanced by retention).
    public var logStartOffset: Int64
    /// The offset the next record gets; also the high watermark (every write is committed).
    public var highWatermark: Int64
    /// Bytes of stored batches.
    public var sizeBytes: Int64
    public var batchCount: Int64
}

public struct TopicDescription: Sendable, Hashable {
    public var name: String
    /// Assigned at creation and never reused: a topic deleted and created again is a new topic.
    public var topicID: UInt64
    public var createdAtMilliseconds: Int64
    public var configuration: TopicConfiguration
    public var partitions: [PartitionDescription]

    public var partitionCount: Int { partitions.count }
}

public struct AppendResult: Sendable, Hashable {
    public var baseOffset: Int64
    public var lastOffset: Int64
    public var logAppendTimeMilliseconds: Int64
    public var logStartOffset: Int64
}

/// What `appendBatch` did with a producer's batch.
public enum ProduceOutcome: Sendable, Hashable {
    case appended(AppendResult)
    /// The same producer, epoch and sequence range was appended before: nothing was written and
    /// the original offsets are answered, as Kafka does.
    case duplicate(AppendResult)

    public var result: AppendResult {
        switch self {
        case .appended(let result), .duplicate(let result): result
        }
    }
}

public struct CommittedOffset: Sendable, Hashable {
    /// The next offset the group will read.
    public var offset: Int64
    public var leaderEpoch: Int32
    public var metadata: String?
    public var commitTimestampMilliseconds: Int64

    public init(offset: Int64, leaderEpoch: Int32 = -1, metadata: String? = nil, commitTimestampMilliseconds: Int64) {
        self.offset = offset
        self.leaderEpoch = leaderEpoch
        self.metadata = metadata
        self.commitTimestampMilliseconds = commitTimestampMilliseconds
    }
}

/// Whole record batches read from one partition, concatenated as Kafka's Fetch returns them.
public struct FetchResult: Sendable {
    public var records: ByteBuffer
    public var batchCount: Int
    public var highWatermark: Int64
    public var logStartOffset: Int64

    public var isEmpty: Bool { batchCount == 0 }
}

public struct ProducerIdentity: Sendable, Hashable {
    public var producerId: Int64
    public var epoch: Int16
}
