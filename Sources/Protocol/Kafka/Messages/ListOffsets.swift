import NIOCore

/// ListOffsets (key 2), versions 1-5.
public struct ListOffsetsRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .listOffsets }

    /// Special `timestamp` values.
    public static let latestTimestamp: Int64 = -1
    public static let earliestTimestamp: Int64 = -2

    public struct ListOffsetsPartition: Sendable, Hashable {
        public var partitionIndex: Int32
        /// v4+.
        public var currentLeaderEpoch: Int32
        /// -1 latest, -2 earliest, else the first offset with a timestamp >= this.
        public var timestamp: Int64

        public init(partitionIndex: Int32, currentLeaderEpoch: Int32 = -1, timestamp: Int64) {
            self.partitionIndex = partitionIndex
            self.currentLeaderEpoch = currentLeaderEpoch
            self.timestamp = timestamp
        }
    }

    public struct ListOffsetsTopic: Sendable, Hashable {
        public var name: String
        public var partitions: [ListOffsetsPartition]

        public init(name: String, partitions: [ListOffsetsPartition]) {
            self.name = name
            self.partitions = partitions
        }
    }

    /// -1 for consumers.
    public var replicaId: Int32
    /// v2+.
    public var isolationLevel: Int8
    public var topics: [ListOffsetsTopic]

    public init(replicaId: Int32 = -1, isolationLevel: Int8 = 0, topics: [ListOffsetsTopic]) {
        self.replicaId = replicaId
        self.isolationLevel = isolationLevel
        self.topics = topics
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> ListOffsetsRequest {
        try apiKey.requireDataPathVersion(version)
        let replicaId: Int32 = try buffer.readKafkaInteger("replica_id")
        let isolationLevel: Int8 = version >= 2 ? try buffer.readKafkaInteger("isolation_level") : 0
        let topics = try buffer.readKafkaArray("topics", minimumElementSize: 6) { (b: inout ByteBuffer) throws(KafkaCodecError) in
            ListOffsetsTopic(
                name: try b.readKafkaString("topics.name"),
                partitions: try b.readKafkaArray("topics.partitions", minimumElementSize: version >= 4 ? 16 : 12) {
                    (p: inout ByteBuffer) throws(KafkaCodecError) in
                    ListOffsetsPartition(
                        partitionIndex: try p.readKafkaInteger("partitions.partition_index"),
                        currentLeaderEpoch: version >= 4 ? try p.readKafkaInteger("partitions.current_leader_epoch") : -1,
                        timestamp: try p.readKafkaInteger("partitions.timestamp"))
                })
        }
        return ListOffsetsRequest(replicaId: replicaId, isolationLevel: isolationLevel, topics: topics)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaInteger(replicaId)
        if version >= 2 { buffer.writeKafkaInteger(isolationLevel) }
        buffer.writeKafkaArray(topics) { b, topic in
            b.writeKafkaString(topic.name)
            b.writeKafkaArray(topic.partitions) { p, partition in
                p.writeKafkaInteger(partition.partitionIndex)
                if version >= 4 { p.writeKafkaInteger(partition.currentLeaderEpoch) }
                p.writeKafkaInteger(partition.timestamp)
            }
        }
    }
}

/// ListOffsets response: throttleTimeMs (v2+), topics[name, partitions[...]].
public struct ListOffsetsResponse: KafkaResponseBody, Hashable {
    public struct ListOffsetsPartitionResponse: Sendable, Hashable {
        public var partitionIndex: Int32
        public var errorCode: Int16
        /// The timestamp of the found offset, -1 for latest/earliest lookups.
        public var timestamp: Int64
        public var offset: Int64
        /// v4+.
        public var leaderEpoch: Int32

        public init(partitionIndex: Int32, errorCode: Int16, timestamp: Int64 = -1, offset: Int64 = -1, leaderEpoch: Int32 = -1) {
            self.partitionIndex = partitionIndex
            self.errorCode = errorCode
            self.timestamp = timestamp
            self.offset = offset
            self.leaderEpoch = leaderEpoch
        }
    }

    public struct ListOffsetsTopicResponse: Sendable, Hashable {
        public var name: String
        public var partitions: [ListOffsetsPartitionResponse]

        public init(name: String, partitions: [ListOffsetsPartitionResponse]) {
            self.name = name
            self.partitions = partitions
        }
    }

    /// v2+.
    public var throttleTimeMs: Int32
    public var topics: [ListOffsetsTopicResponse]

    public init(throttleTimeMs: Int32 = 0, topics: [ListOffsetsTopicResponse]) {
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> ListOffsetsResponse {
        try KafkaAPIKey.listOffsets.requireDataPathVersion(version)
        let throttleTimeMs: Int32 = version >= 2 ? try buffer.readKafkaInteger("throttle_time_ms") : 0
        let topics = try buffer.readKafkaArray("topics", minimumElementSize: 6) { (b: inout ByteBuffer) throws(KafkaCodecError) in
            ListOffsetsTopicResponse(
                name: try b.readKafkaString("topics.name"),
                partitions: try b.readKafkaArray("topics.partitions", minimumElementSize: version >= 4 ? 26 : 22) {
                    (p: inout ByteBuffer) throws(KafkaCodecError) in
                    ListOffsetsPartitionResponse(
                        partitionIndex: try p.readKafkaInteger("partitions.partition_index"),
                        errorCode: try p.readKafkaInteger("partitions.error_code"),
                        timestamp: try p.readKafkaInteger("partitions.timestamp"),
                        offset: try p.readKafkaInteger("partitions.offset"),
                        leaderEpoch: version >= 4 ? try p.readKafkaInteger("partitions.leader_epoch") : -1)
                })
        }
        return ListOffsetsResponse(throttleTimeMs: throttleTimeMs, topics: topics)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        if version >= 2 { buffer.writeKafkaInteger(throttleTimeMs) }
        buffer.writeKafkaArray(topics) { b, topic in
            b.writeKafkaString(topic.name)
            b.writeKafkaArray(topic.partitions) { p, partition in
                p.writeKafkaInteger(partition.partitionIndex)
                p.writeKafkaInteger(partition.errorCode)
                p.writeKafkaInteger(partition.timestamp)
                p.writeKafkaInteger(partition.offset)
                if version >= 4 { p.writeKafkaInteger(partition.leaderEpoch) }
            }
        }
    }
}
