import NIOCore

/// OffsetDelete (key 47), version 0 (not flexible; KIP-496): what
/// `kafka-consumer-groups.sh --delete-offsets` and AdminClient.deleteConsumerGroupOffsets send.
/// Layout per Apache Kafka's `OffsetDeleteRequest.json` / `OffsetDeleteResponse.json`.
public struct OffsetDeleteRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .offsetDelete }

    public struct Topic: Sendable, Hashable {
        public var name: String
        public var partitions: [Int32]

        public init(name: String, partitions: [Int32]) {
            self.name = name
            self.partitions = partitions
        }
    }

    public var groupId: String
    public var topics: [Topic]

    public init(groupId: String, topics: [Topic]) {
        self.groupId = groupId
        self.topics = topics
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let groupId = try buffer.readKafkaString("group_id")
        let topics = try buffer.readKafkaArray("topics", minimumElementSize: 6) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Topic in
            let name = try b.readKafkaString("topics.name")
            let partitions = try b.readKafkaArray("topics.partitions", minimumElementSize: 4) { (p: inout ByteBuffer) throws(KafkaCodecError) -> Int32 in
                try p.readKafkaInteger("partitions.partition_index")
            }
            return Topic(name: name, partitions: partitions)
        }
        return OffsetDeleteRequest(groupId: groupId, topics: topics)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaString(groupId)
        buffer.writeKafkaArray(topics) { b, topic in
            b.writeKafkaString(topic.name)
            b.writeKafkaArray(topic.partitions) { p, partition in p.writeKafkaInteger(partition) }
        }
    }
}

/// Its topics are laid out as OffsetCommit's response's: partitions with an error code each.
public struct OffsetDeleteResponse: KafkaResponseBody, Hashable {
    public typealias Partition = OffsetCommitResponse.Partition
    public typealias Topic = OffsetCommitResponse.Topic

    public var errorCode: Int16
    public var throttleTimeMs: Int32
    public var topics: [Topic]

    public init(errorCode: Int16 = 0, throttleTimeMs: Int32 = 0, topics: [Topic]) {
        self.errorCode = errorCode
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .offsetDelete)
        let errorCode: Int16 = try buffer.readKafkaInteger("error_code")
        let throttle: Int32 = try buffer.readKafkaInteger("throttle_time_ms")
        return OffsetDeleteResponse(errorCode: errorCode, throttleTimeMs: throttle, topics: try OffsetCommitResponse.readTopics(&buffer))
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaInteger(errorCode)
        buffer.writeKafkaInteger(throttleTimeMs)
        OffsetCommitResponse.writeTopics(topics, into: &buffer)
    }
}
