import NIOCore
import Protocol

/// A `HOST:PORT` broker address.
public struct KafkaBrokerAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` (`[v6]:PORT` for IPv6 literals).
    public init?(_ string: String) {
        let trimmed = string.trimmingSpaces
        guard let colon = trimmed.lastIndex(of: ":"), let port = Int(trimmed[trimmed.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        var host = String(trimmed[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.init(host: host, port: port)
    }

    /// Parses a comma-separated bootstrap list; nil when it is empty or any entry is malformed.
    public static func list(_ string: String) -> [KafkaBrokerAddress]? {
        let entries = string.split(separator: ",").map(String.init).filter { !$0.trimmingSpaces.isEmpty }
        let parsed = entries.compactMap(KafkaBrokerAddress.init)
        return parsed.isEmpty || parsed.count != entries.count ? nil : parsed
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A topic and partition (the client's own type, so it cannot clash with LogStore's).
public struct KafkaTopicPartition: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }

    public var description: String { "\(topic)-\(partition)" }
}

/// A committed consumer-group offset: the next offset to read, and the metadata string stored with it.
public struct KafkaOffsetAndMetadata: Sendable, Hashable, Codable {
    public var offset: Int64
    public var metadata: String?

    public init(offset: Int64, metadata: String? = nil) {
        self.offset = offset
        self.metadata = metadata
    }
}

/// Which offset ListOffsets should find.
public enum KafkaOffsetSpec: Sendable, Hashable {
    /// The log start offset.
    case earliest
    /// The high watermark (the offset the next record will get).
    case latest
    /// The first offset whose record timestamp is at least this (milliseconds since the epoch).
    case timestamp(Int64)

    var wireValue: Int64 {
        switch self {
        case .earliest: ListOffsetsRequest.earliestTimestamp
        case .latest: ListOffsetsRequest.latestTimestamp
        case .timestamp(let milliseconds): milliseconds
        }
    }
}

/// One partition's ListOffsets answer. `offset` is -1 when a timestamp lookup found nothing.
public struct KafkaListedOffset: Sendable, Hashable {
    public var offset: Int64
    /// The found record's timestamp for timestamp lookups, else -1.
    public var timestamp: Int64

    public init(offset: Int64, timestamp: Int64) {
        self.offset = offset
        self.timestamp = timestamp
    }
}

/// A fetched batch this client cannot decode (framing, CRC-32C, codec, counts or record
/// offsets: `ConsumedBatch`), as the error value of its partition alone, with the offsets it
/// covers so that the consumer can dead-letter exactly them and go on.
public struct KafkaUndecodableBatch: Sendable, Hashable {
    /// The first offset the batch covers that the consumer has not read.
    public var firstOffset: Int64
    /// The batch's last offset (see `KafkaClient.decodePartition` for how it is bounded).
    public var lastOffset: Int64
    public var reason: String
    /// The batch's bytes as fetched (all of them the response held, for a broken framing).
    public var bytes: ByteBuffer

    public init(firstOffset: Int64, lastOffset: Int64, reason: String, bytes: ByteBuffer) {
        self.firstOffset = firstOffset
        self.lastOffset = lastOffset
        self.reason = reason
        self.bytes = bytes
    }
}

/// Records read from one partition, with the partition's offsets at the time of the read.
public struct KafkaFetchResult: Sendable, Hashable {
    public var topicPartition: KafkaTopicPartition
    /// Records at or after the requested offset, in offset order (before `undecodable`).
    public var records: [Record]
    public var highWatermark: Int64
    public var logStartOffset: Int64
    /// The first batch after `records` that could not be decoded; nothing after it was read.
    public var undecodable: KafkaUndecodableBatch?

    public init(topicPartition: KafkaTopicPartition, records: [Record], highWatermark: Int64, logStartOffset: Int64,
                undecodable: KafkaUndecodableBatch? = nil) {
        self.topicPartition = topicPartition
        self.records = records
        self.highWatermark = highWatermark
        self.logStartOffset = logStartOffset
        self.undecodable = undecodable
    }

    /// Where the next fetch should start: after the undecodable batch or the last record,
    /// else the requested offset.
    public func nextOffset(after requested: Int64) -> Int64 {
        if let undecodable { return undecodable.lastOffset + 1 }
        return records.last.map { $0.offset + 1 } ?? requested
    }
}

/// A topic to create.
public struct KafkaNewTopic: Sendable, Hashable {
    public var name: String
    /// -1 for the broker default.
    public var partitions: Int32
    /// Topic configs, e.g. `retention.ms`, `retention.bytes`.
    public var configs: [String: String]

    public init(name: String, partitions: Int32 = -1, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.configs = configs
    }
}

/// What the client knows about the cluster.
public struct KafkaClusterMetadata: Sendable, Hashable {
    public struct Broker: Sendable, Hashable {
        public var nodeId: Int32
        public var address: KafkaBrokerAddress
    }

    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        public var leader: Int32
        public var errorCode: Int16
    }

    public struct Topic: Sendable, Hashable {
        public var name: String
        public var errorCode: Int16
        public var partitions: [Partition]

        public var partitionCount: Int { partitions.count }
    }

    public var clusterId: String?
    public var controllerId: Int32
    public var brokers: [Broker]
    /// Topics that exist (error code 0), by name.
    public var topics: [String: Topic]
    /// Topics the broker answered with an error for (e.g. UNKNOWN_TOPIC_OR_PARTITION), by name.
    public var topicErrors: [String: Int16]

    init(_ response: MetadataResponse) {
        clusterId = response.clusterId
        controllerId = response.controllerId
        brokers = response.brokers.map {
            Broker(nodeId: $0.nodeId, address: KafkaBrokerAddress(host: $0.host, port: Int($0.port)))
        }
        var topics: [String: Topic] = [:]
        var errors: [String: Int16] = [:]
        for topic in response.topics {
            if topic.errorCode != 0 {
                errors[topic.name] = topic.errorCode
            } else {
                let partitions = topic.partitions
                    .map { Partition(partition: $0.partitionIndex, leader: $0.leaderId, errorCode: $0.errorCode) }
                    .sorted { $0.partition < $1.partition }
                topics[topic.name] = Topic(name: topic.name, errorCode: 0, partitions: partitions)
            }
        }
        self.topics = topics
        self.topicErrors = errors
    }
}

extension String {
    var trimmingSpaces: Substring {
        var slice = self[...]
        while slice.first?.isWhitespace == true { slice = slice.dropFirst() }
        while slice.last?.isWhitespace == true { slice = slice.dropLast() }
        return slice
    }
}

extension Duration {
    /// Whole milliseconds, clamped to Int32 (Kafka's timeout fields).
    var kafkaMilliseconds: Int32 {
        let (seconds, attoseconds) = components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }

    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? Int64.max : scaled &+ attoseconds / 1_000_000_000
    }
}
