import NIOCore

/// OffsetForLeaderEpoch (key 23), versions 0-4 (v4 flexible): consumers (librdkafka, the Java
/// client) ask where a leader epoch ended to detect log truncation after a leader change.
/// Layout per Apache Kafka's `OffsetForLeaderEpochRequest.json` / `...Response.json`.
public struct OffsetForLeaderEpochRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .offsetForLeaderEpoch }

    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        /// v2+: the epoch the client believes current, for fencing; -1 skips the check.
        public var currentLeaderEpoch: Int32
        public var leaderEpoch: Int32

        public init(partition: Int32, currentLeaderEpoch: Int32 = -1, leaderEpoch: Int32) {
            self.partition = partition
            self.currentLeaderEpoch = currentLeaderEpoch
            self.leaderEpoch = leaderEpoch
        }
    }

    public struct Topic: Sendable, Hashable {
        public var topic: String
        public var partitions: [Partition]

        public init(topic: String, partitions: [Partition]) {
            self.topic = topic
            self.partitions = partitions
        }
    }

    /// v3+: -1 for consumers, a broker id for followers (-2 when absent).
    public var replicaId: Int32
    public var topics: [Topic]

    public init(replicaId: Int32 = -1, topics: [Topic]) {
        self.replicaId = replicaId
        self.topics = topics
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let flexible = apiKey.isFlexible(version)
        let replicaId: Int32 = try version >= 3 ? buffer.readKafkaInteger("replica_id") : -2
        let partitionSize = version >= 2 ? 12 : 8
        let topics = try buffer.readKafkaArray("topics", flexible: flexible, minimumElementSize: flexible ? 2 : 6) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Topic in
            let name = try b.readKafkaString("topics.topic", flexible: flexible)
            let partitions = try b.readKafkaArray("topics.partitions", flexible: flexible, minimumElementSize: partitionSize) { (p: inout ByteBuffer) throws(KafkaCodecError) -> Partition in
                let index: Int32 = try p.readKafkaInteger("partitions.partition")
                let current: Int32 = try version >= 2 ? p.readKafkaInteger("partitions.current_leader_epoch") : -1
                let partition = Partition(partition: index, currentLeaderEpoch: current, leaderEpoch: try p.readKafkaInteger("partitions.leader_epoch"))
                try p.skipKafkaTaggedFields("partitions tagged fields", flexible: flexible)
                return partition
            }
            try b.skipKafkaTaggedFields("topics tagged fields", flexible: flexible)
            return Topic(topic: name, partitions: partitions)
        }
        try buffer.skipKafkaTaggedFields("tagged fields", flexible: flexible)
        return OffsetForLeaderEpochRequest(replicaId: replicaId, topics: topics)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let flexible = Self.apiKey.isFlexible(version)
        if version >= 3 { buffer.writeKafkaInteger(replicaId) }
        buffer.writeKafkaArray(topics, flexible: flexible) { b, topic in
            b.writeKafkaString(topic.topic, flexible: flexible)
            b.writeKafkaArray(topic.partitions, flexible: flexible) { p, partition in
                p.writeKafkaInteger(partition.partition)
                if version >= 2 { p.writeKafkaInteger(partition.currentLeaderEpoch) }
                p.writeKafkaInteger(partition.leaderEpoch)
                p.writeKafkaEmptyTaggedFields(flexible: flexible)
            }
            b.writeKafkaEmptyTaggedFields(flexible: flexible)
        }
        buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
    }
}

public struct OffsetForLeaderEpochResponse: KafkaResponseBody, Hashable {
    public struct Partition: Sendable, Hashable {
        public var errorCode: Int16
        public var partition: Int32
        /// v1+: the largest epoch at or below the requested one; -1 when unknown.
        public var leaderEpoch: Int32
        /// Where that epoch ended (the log end for the current epoch); -1 when unknown.
        public var endOffset: Int64

        public init(errorCode: Int16 = 0, partition: Int32, leaderEpoch: Int32 = -1, endOffset: Int64 = -1) {
            self.errorCode = errorCode
            self.partition = partition
            self.leaderEpoch = leaderEpoch
            self.endOffset = endOffset
        }
    }

    public struct Topic: Sendable, Hashable {
        public var topic: String
        public var partitions: [Partition]

        public init(topic: String, partitions: [Partition]) {
            self.topic = topic
            self.partitions = partitions
        }
    }

    public var throttleTimeMs: Int32
    public var topics: [Topic]

    public init(throttleTimeMs: Int32 = 0, topics: [Topic]) {
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .offsetForLeaderEpoch)
        let flexible = KafkaAPIKey.offsetForLeaderEpoch.isFlexible(version)
        let throttle: Int32 = try version >= 2 ? buffer.readKafkaInteger("throttle_time_ms") : 0
        let partitionSize = version >= 1 ? 18 : 14
        let topics = try buffer.readKafkaArray("topics", flexible: flexible, minimumElementSize: flexible ? 2 : 6) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Topic in
            let name = try b.readKafkaString("topics.topic", flexible: flexible)
            let partitions = try b.readKafkaArray("topics.partitions", flexible: flexible, minimumElementSize: partitionSize) { (p: inout ByteBuffer) throws(KafkaCodecError) -> Partition in
                let errorCode: Int16 = try p.readKafkaInteger("partitions.error_code")
                let index: Int32 = try p.readKafkaInteger("partitions.partition")
                let epoch: Int32 = try version >= 1 ? p.readKafkaInteger("partitions.leader_epoch") : -1
                let partition = Partition(errorCode: errorCode, partition: index, leaderEpoch: epoch,
                                          endOffset: try p.readKafkaInteger("partitions.end_offset"))
                try p.skipKafkaTaggedFields("partitions tagged fields", flexible: flexible)
                return partition
            }
            try b.skipKafkaTaggedFields("topics tagged fields", flexible: flexible)
            return Topic(topic: name, partitions: partitions)
        }
        try buffer.skipKafkaTaggedFields("tagged fields", flexible: flexible)
        return OffsetForLeaderEpochResponse(throttleTimeMs: throttle, topics: topics)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let flexible = KafkaAPIKey.offsetForLeaderEpoch.isFlexible(version)
        if version >= 2 { buffer.writeKafkaInteger(throttleTimeMs) }
        buffer.writeKafkaArray(topics, flexible: flexible) { b, topic in
            b.writeKafkaString(topic.topic, flexible: flexible)
            b.writeKafkaArray(topic.partitions, flexible: flexible) { p, partition in
                p.writeKafkaInteger(partition.errorCode)
                p.writeKafkaInteger(partition.partition)
                if version >= 1 { p.writeKafkaInteger(partition.leaderEpoch) }
                p.writeKafkaInteger(partition.endOffset)
                p.writeKafkaEmptyTaggedFields(flexible: flexible)
            }
            b.writeKafkaEmptyTaggedFields(flexible: flexible)
        }
        buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
    }
}
