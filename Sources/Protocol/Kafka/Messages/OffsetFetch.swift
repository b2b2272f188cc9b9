import NIOCore

/// OffsetFetch (key 9), versions 1-5 (non-flexible).
public struct OffsetFetchRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .offsetFetch }

    public struct Topic: Sendable, Hashable {
        public var name: String
        public var partitionIndexes: [Int32]

        public init(name: String, partitionIndexes: [Int32]) {
            self.name = name
            self.partitionIndexes = partitionIndexes
        }
    }

    public var groupId: String
    /// Null (v2+) asks for every committed offset of the group. v1 cannot express null: a null
    /// array there reads as empty, and encoding nil at v1 writes an empty array.
    public var topics: [Topic]?

    public init(groupId: String, topics: [Topic]?) {
        self.groupId = groupId
        self.topics = topics
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let groupId = try buffer.readKafkaString("group_id")
        let element = { (b: inout ByteBuffer) throws(KafkaCodecError) -> Topic in
            Topic(name: try b.readKafkaString("topics.name"),
                  partitionIndexes: try KafkaGroupWire.readInt32Array(&b, "topics.partition_indexes"))
        }
        let topics: [Topic]?
        if version >= 2 {
            topics = try buffer.readKafkaNullableArray("topics", minimumElementSize: 6, element)
        } else {
            topics = try buffer.readKafkaArray("topics", minimumElementSize: 6, element)
        }
        return OffsetFetchRequest(groupId: groupId, topics: topics)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaString(groupId)
        let write = { (b: inout ByteBuffer, topic: Topic) in
            b.writeKafkaString(topic.name)
            KafkaGroupWire.writeInt32Array(&b, topic.partitionIndexes)
        }
        if version >= 2 {
            buffer.writeKafkaNullableArray(topics, write)
        } else {
            buffer.writeKafkaArray(topics ?? [], write)
        }
    }
}

public struct OffsetFetchResponse: KafkaResponseBody, Hashable {
    public struct Partition: Sendable, Hashable {
        public var partitionIndex: Int32
        /// -1 when nothing is committed.
        public var committedOffset: Int64
        /// v5+; -1 when absent.
        public var committedLeaderEpoch: Int32
        public var metadata: String?
        public var errorCode: Int16

        public init(partitionIndex: Int32, committedOffset: Int64, committedLeaderEpoch: Int32 = -1,
                    metadata: String?, errorCode: Int16) {
            self.partitionIndex = partitionIndex
            self.committedOffset = committedOffset
            self.committedLeaderEpoch = committedLeaderEpoch
            self.metadata = metadata
            self.errorCode = errorCode
        }
    }

    public struct Topic: Sendable, Hashable {
        public var name: String
        public var partitions: [Partition]

        public init(name: String, partitions: [Partition]) {
            self.name = name
            self.partitions = partitions
        }
    }

    /// v3+; 0 when absent.
    public var throttleTimeMs: Int32
    public var topics: [Topic]
    /// Top-level (group) error, v2+; 0 when absent.
    public var errorCode: Int16

    public init(throttleTimeMs: Int32 = 0, topics: [Topic], errorCode: Int16 = 0) {
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
        self.errorCode = errorCode
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .offsetFetch)
        let throttleTimeMs: Int32 = try version >= 3 ? buffer.readKafkaInteger("throttle_time_ms") : 0
        let partitionSize = version >= 5 ? 20 : 16
        let topics = try buffer.readKafkaArray("topics", minimumElementSize: 6) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Topic in
            let name = try b.readKafkaString("topics.name")
            let partitions = try b.readKafkaArray("topics.partitions", minimumElementSize: partitionSize) { (p: inout ByteBuffer) throws(KafkaCodecError) -> Partition in
                let index: Int32 = try p.readKafkaInteger("partitions.partition_index")
                let offset: Int64 = try p.readKafkaInteger("partitions.committed_offset")
                let epoch: Int32 = try version >= 5 ? p.readKafkaInteger("partitions.committed_leader_epoch") : -1
                return Partition(partitionIndex: index, committedOffset: offset, committedLeaderEpoch: epoch,
                                 metadata: try p.readKafkaNullableString("partitions.metadata"),
                                 errorCode: try p.readKafkaInteger("partitions.error_code"))
            }
            return Topic(name: name, partitions: partitions)
        }
        let errorCode: Int16 = try version >= 2 ? buffer.readKafkaInteger("error_code") : 0
        return OffsetFetchResponse(throttleTimeMs: throttleTimeMs, topics: topics, errorCode: errorCode)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        if version >= 3 { buffer.writeKafkaInteger(throttleTimeMs) }
        buffer.writeKafkaArray(topics) { b, topic in
            b.writeKafkaString(topic.name)
            b.writeKafkaArray(topic.partitions) { p, partition in
                p.writeKafkaInteger(partition.partitionIndex)
                p.writeKafkaInteger(partition.committedOffset)
                if version >= 5 { p.writeKafkaInteger(partition.committedLeaderEpoch) }
                p.writeKafkaNullableString(partition.metadata)
                p.writeKafkaInteger(partition.errorCode)
            }
        }
        if version >= 2 { buffer.writeKafkaInteger(errorCode) }
    }
}
