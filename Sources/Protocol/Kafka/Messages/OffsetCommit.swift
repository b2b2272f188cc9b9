import NIOCore

/// OffsetCommit (key 8), versions 2-7 (non-flexible).
public struct OffsetCommitRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .offsetCommit }

    public struct Partition: Sendable, Hashable {
        public var partitionIndex: Int32
        /// The next offset to read.
        public var committedOffset: Int64
        /// v6+; -1 when absent.
        public var committedLeaderEpoch: Int32
        public var committedMetadata: String?

        public init(partitionIndex: Int32, committedOffset: Int64, committedLeaderEpoch: Int32 = -1,
                    committedMetadata: String?) {
            self.partitionIndex = partitionIndex
            self.committedOffset = committedOffset
            self.committedLeaderEpoch = committedLeaderEpoch
            self.committedMetadata = committedMetadata
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

    public var groupId: String
    /// Kafka's JSON now calls this `GenerationIdOrMemberEpoch`; -1 for assign()-mode commits.
    public var generationId: Int32
    public var memberId: String
    /// v7+; null when absent.
    public var groupInstanceId: String?
    /// v2-4 only; -1 (broker default) when absent.
    public var retentionTimeMs: Int64
    public var topics: [Topic]

    public init(groupId: String, generationId: Int32 = -1, memberId: String = "", groupInstanceId: String? = nil,
                retentionTimeMs: Int64 = -1, topics: [Topic]) {
        self.groupId = groupId
        self.generationId = generationId
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.retentionTimeMs = retentionTimeMs
        self.topics = topics
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let groupId = try buffer.readKafkaString("group_id")
        let generationId: Int32 = try buffer.readKafkaInteger("generation_id")
        let memberId = try buffer.readKafkaString("member_id")
        let groupInstanceId = try version >= 7 ? buffer.readKafkaNullableString("group_instance_id") : nil
        let retentionTimeMs: Int64 = try (2...4).contains(version) ? buffer.readKafkaInteger("retention_time_ms") : -1
        let partitionSize = version >= 6 ? 18 : 14
        let topics = try buffer.readKafkaArray("topics", minimumElementSize: 6) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Topic in
            let name = try b.readKafkaString("topics.name")
            let partitions = try b.readKafkaArray("topics.partitions", minimumElementSize: partitionSize) { (p: inout ByteBuffer) throws(KafkaCodecError) -> Partition in
                let index: Int32 = try p.readKafkaInteger("partitions.partition_index")
                let offset: Int64 = try p.readKafkaInteger("partitions.committed_offset")
                let epoch: Int32 = try version >= 6 ? p.readKafkaInteger("partitions.committed_leader_epoch") : -1
                return Partition(partitionIndex: index, committedOffset: offset, committedLeaderEpoch: epoch,
                                 committedMetadata: try p.readKafkaNullableString("partitions.committed_metadata"))
            }
            return Topic(name: name, partitions: partitions)
        }
        return OffsetCommitRequest(groupId: groupId, generationId: generationId, memberId: memberId,
                                   groupInstanceId: groupInstanceId, retentionTimeMs: retentionTimeMs, topics: topics)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaString(groupId)
        buffer.writeKafkaInteger(generationId)
        buffer.writeKafkaString(memberId)
        if version >= 7 { buffer.writeKafkaNullableString(groupInstanceId) }
        if (2...4).contains(version) { buffer.writeKafkaInteger(retentionTimeMs) }
        buffer.writeKafkaArray(topics) { b, topic in
            b.writeKafkaString(topic.name)
            b.writeKafkaArray(topic.partitions) { p, partition in
                p.writeKafkaInteger(partition.partitionIndex)
                p.writeKafkaInteger(partition.committedOffset)
                if version >= 6 { p.writeKafkaInteger(partition.committedLeaderEpoch) }
                p.writeKafkaNullableString(partition.committedMetadata)
            }
        }
    }
}

public struct OffsetCommitResponse: KafkaResponseBody, Hashable {
    public struct Partition: Sendable, Hashable {
        public var partitionIndex: Int32
        public var errorCode: Int16

        public init(partitionIndex: Int32, errorCode: Int16 = 0) {
            self.partitionIndex = partitionIndex
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

    public init(throttleTimeMs: Int32 = 0, topics: [Topic]) {
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .offsetCommit)
        let throttleTimeMs: Int32 = try version >= 3 ? buffer.readKafkaInteger("throttle_time_ms") : 0
        return OffsetCommitResponse(throttleTimeMs: throttleTimeMs, topics: try readTopics(&buffer))
    }

    /// The per-partition error codes, laid out alike in OffsetCommit's and OffsetDelete's
    /// (non-flexible) responses.
    static func readTopics(_ buffer: inout ByteBuffer) throws(KafkaCodecError) -> [Topic] {
        try buffer.readKafkaArray("topics", minimumElementSize: 6) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Topic in
            Topic(name: try b.readKafkaString("topics.name"),
                  partitions: try b.readKafkaArray("topics.partitions", minimumElementSize: 6) { (p: inout ByteBuffer) throws(KafkaCodecError) -> Partition in
                      Partition(partitionIndex: try p.readKafkaInteger("partitions.partition_index"),
                                errorCode: try p.readKafkaInteger("partitions.error_code"))
                  })
        }
    }

    static func writeTopics(_ topics: [Topic], into buffer: inout ByteBuffer) {
        buffer.writeKafkaArray(topics) { b, topic in
            b.writeKafkaString(topic.name)
            b.writeKafkaArray(topic.partitions) { p, partition in
                p.writeKafkaInteger(partition.partitionIndex)
                p.writeKafkaInteger(partition.errorCode)
            }
        }
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        if version >= 3 { buffer.writeKafkaInteger(throttleTimeMs) }
        Self.writeTopics(topics, into: &buffer)
    }
}
