import NIOCore

/// DeleteRecords (key 21), versions 0-2 (v2 flexible): what `kafka-delete-records.sh`,
/// AdminClient.deleteRecords and UIs' "purge" send: move each partition's log start offset up
/// to the given offset (-1: the high watermark). Layout per Apache Kafka's
/// `DeleteRecordsRequest.json` / `DeleteRecordsResponse.json`.
public struct DeleteRecordsRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .deleteRecords }

    public struct Partition: Sendable, Hashable {
        public var partitionIndex: Int32
        /// Records before this offset go; -1 means the high watermark.
        public var offset: Int64

        public init(partitionIndex: Int32, offset: Int64) {
            self.partitionIndex = partitionIndex
            self.offset = offset
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

    public var topics: [Topic]
    public var timeoutMs: Int32

    public init(topics: [Topic], timeoutMs: Int32 = 30_000) {
        self.topics = topics
        self.timeoutMs = timeoutMs
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let flexible = apiKey.isFlexible(version)
        let topics = try buffer.readKafkaArray("topics", flexible: flexible, minimumElementSize: flexible ? 2 : 6) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Topic in
            let name = try b.readKafkaString("topics.name", flexible: flexible)
            let partitions = try b.readKafkaArray("topics.partitions", flexible: flexible, minimumElementSize: 12) { (p: inout ByteBuffer) throws(KafkaCodecError) -> Partition in
                let partition = Partition(partitionIndex: try p.readKafkaInteger("partitions.partition_index"),
                                          offset: try p.readKafkaInteger("partitions.offset"))
                try p.skipKafkaTaggedFields("partitions tagged fields", flexible: flexible)
                return partition
            }
            try b.skipKafkaTaggedFields("topics tagged fields", flexible: flexible)
            return Topic(name: name, partitions: partitions)
        }
        let timeoutMs: Int32 = try buffer.readKafkaInteger("timeout_ms")
        try buffer.skipKafkaTaggedFields("tagged fields", flexible: flexible)
        return DeleteRecordsRequest(topics: topics, timeoutMs: timeoutMs)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeKafkaArray(topics, flexible: flexible) { b, topic in
            b.writeKafkaString(topic.name, flexible: flexible)
            b.writeKafkaArray(topic.partitions, flexible: flexible) { p, partition in
                p.writeKafkaInteger(partition.partitionIndex)
                p.writeKafkaInteger(partition.offset)
                p.writeKafkaEmptyTaggedFields(flexible: flexible)
            }
            b.writeKafkaEmptyTaggedFields(flexible: flexible)
        }
        buffer.writeKafkaInteger(timeoutMs)
        buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
    }
}

public struct DeleteRecordsResponse: KafkaResponseBody, Hashable {
    public struct Partition: Sendable, Hashable {
        public var partitionIndex: Int32
        /// The partition's log start offset afterwards; -1 with an error.
        public var lowWatermark: Int64
        public var errorCode: Int16

        public init(partitionIndex: Int32, lowWatermark: Int64, errorCode: Int16 = 0) {
            self.partitionIndex = partitionIndex
            self.lowWatermark = lowWatermark
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

    public var throttleTimeMs: Int32
    public var topics: [Topic]

    public init(throttleTimeMs: Int32 = 0, topics: [Topic]) {
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .deleteRecords)
        let flexible = KafkaAPIKey.deleteRecords.isFlexible(version)
        let throttle: Int32 = try buffer.readKafkaInteger("throttle_time_ms")
        let topics = try buffer.readKafkaArray("topics", flexible: flexible, minimumElementSize: flexible ? 2 : 6) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Topic in
            let name = try b.readKafkaString("topics.name", flexible: flexible)
            let partitions = try b.readKafkaArray("topics.partitions", flexible: flexible, minimumElementSize: 14) { (p: inout ByteBuffer) throws(KafkaCodecError) -> Partition in
                let partition = Partition(partitionIndex: try p.readKafkaInteger("partitions.partition_index"),
                                          lowWatermark: try p.readKafkaInteger("partitions.low_watermark"),
                                          errorCode: try p.readKafkaInteger("partitions.error_code"))
                try p.skipKafkaTaggedFields("partitions tagged fields", flexible: flexible)
                return partition
            }
            try b.skipKafkaTaggedFields("topics tagged fields", flexible: flexible)
            return Topic(name: name, partitions: partitions)
        }
        try buffer.skipKafkaTaggedFields("tagged fields", flexible: flexible)
        return DeleteRecordsResponse(throttleTimeMs: throttle, topics: topics)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let flexible = KafkaAPIKey.deleteRecords.isFlexible(version)
        buffer.writeKafkaInteger(throttleTimeMs)
        buffer.writeKafkaArray(topics, flexible: flexible) { b, topic in
            b.writeKafkaString(topic.name, flexible: flexible)
            b.writeKafkaArray(topic.partitions, flexible: flexible) { p, partition in
                p.writeKafkaInteger(partition.partitionIndex)
                p.writeKafkaInteger(partition.lowWatermark)
                p.writeKafkaInteger(partition.errorCode)
                p.writeKafkaEmptyTaggedFields(flexible: flexible)
            }
            b.writeKafkaEmptyTaggedFields(flexible: flexible)
        }
        buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
    }
}
