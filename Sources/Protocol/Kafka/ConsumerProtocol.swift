import NIOCore

/// The embedded "consumer" protocol (Kafka's `ConsumerProtocolSubscription.json` and
/// `ConsumerProtocolAssignment.json`): the opaque JoinGroup metadata and SyncGroup assignment
/// bytes that Kafka consumers exchange through the coordinator. Each payload starts with an
/// INT16 version. Like Kafka's `ConsumerProtocol`, decoding a newer version than known reads
/// the fields of the highest known version and ignores the rest; a negative version is an error.

/// A topic and partition list, as used by both payloads (`TopicPartition` in Kafka's JSON).
public struct ConsumerProtocolTopicPartitions: Sendable, Hashable {
    public var topic: String
    public var partitions: [Int32]

    public init(topic: String, partitions: [Int32]) {
        self.topic = topic
        self.partitions = partitions
    }

    static func read(_ buffer: inout ByteBuffer, _ field: StaticString) throws(KafkaCodecError) -> [Self] {
        try buffer.readKafkaArray(field, minimumElementSize: 6) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Self in
            Self(topic: try b.readKafkaString("topic"), partitions: try KafkaGroupWire.readInt32Array(&b, "partitions"))
        }
    }

    static func write(_ buffer: inout ByteBuffer, _ values: [Self]) {
        buffer.writeKafkaArray(values) { b, value in
            b.writeKafkaString(value.topic)
            KafkaGroupWire.writeInt32Array(&b, value.partitions)
        }
    }
}

/// JoinGroup protocol metadata for protocol type "consumer", versions 0-3.
public struct ConsumerProtocolSubscription: Sendable, Hashable {
    public typealias TopicPartition = ConsumerProtocolTopicPartitions
    public static let highestKnownVersion: Int16 = 3

    /// The version on the wire. Encoding writes it, then the fields of min(version, 3).
    public var version: Int16
    public var topics: [String]
    public var userData: ByteBuffer?
    /// v1+; empty when absent.
    public var ownedPartitions: [TopicPartition]
    /// v2+; -1 when absent.
    public var generationId: Int32
    /// v3+; null when absent.
    public var rackId: String?

    public init(version: Int16, topics: [String], userData: ByteBuffer? = nil, ownedPartitions: [TopicPartition] = [],
                generationId: Int32 = -1, rackId: String? = nil) {
        self.version = version
        self.topics = topics
        self.userData = userData
        self.ownedPartitions = ownedPartitions
        self.generationId = generationId
        self.rackId = rackId
    }

    /// Reads a whole payload (version header included); trailing bytes of a newer version are skipped.
    public static func decode(from buffer: inout ByteBuffer) throws(KafkaCodecError) -> Self {
        let version: Int16 = try buffer.readKafkaInteger("subscription.version")
        guard version >= 0 else { throw KafkaCodecError(.invalidValue, "consumer subscription has version \(version)") }
        let known = min(version, highestKnownVersion)
        let topics = try KafkaGroupWire.readStringArray(&buffer, "subscription.topics")
        let userData = try buffer.readKafkaNullableBytes("subscription.user_data")
        let owned = try known >= 1 ? ConsumerProtocolTopicPartitions.read(&buffer, "subscription.owned_partitions") : []
        let generationId: Int32 = try known >= 2 ? buffer.readKafkaInteger("subscription.generation_id") : -1
        let rackId = try known >= 3 ? buffer.readKafkaNullableString("subscription.rack_id") : nil
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return Self(version: version, topics: topics, userData: userData, ownedPartitions: owned,
                    generationId: generationId, rackId: rackId)
    }

    public static func decode(_ bytes: ByteBuffer) throws(KafkaCodecError) -> Self {
        var copy = bytes
        return try decode(from: &copy)
    }

    public func encode(into buffer: inout ByteBuffer) {
        let known = min(version, Self.highestKnownVersion)
        buffer.writeKafkaInteger(version)
        KafkaGroupWire.writeStringArray(&buffer, topics)
        buffer.writeKafkaNullableBytes(userData)
        if known >= 1 { ConsumerProtocolTopicPartitions.write(&buffer, ownedPartitions) }
        if known >= 2 { buffer.writeKafkaInteger(generationId) }
        if known >= 3 { buffer.writeKafkaNullableString(rackId) }
    }

    public func encoded() -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(into: &buffer)
        return buffer
    }
}

/// SyncGroup assignment for protocol type "consumer", versions 0-3 (one layout for all).
public struct ConsumerProtocolAssignment: Sendable, Hashable {
    public typealias TopicPartition = ConsumerProtocolTopicPartitions
    public static let highestKnownVersion: Int16 = 3

    public var version: Int16
    public var assignedPartitions: [TopicPartition]
    public var userData: ByteBuffer?

    public init(version: Int16, assignedPartitions: [TopicPartition], userData: ByteBuffer? = nil) {
        self.version = version
        self.assignedPartitions = assignedPartitions
        self.userData = userData
    }

    /// Reads a whole payload (version header included); trailing bytes of a newer version are
    /// skipped. Note: a member that has not synced yet has an EMPTY assignment (zero bytes),
    /// which this rejects as truncated; check `readableBytes == 0` first where that can happen.
    public static func decode(from buffer: inout ByteBuffer) throws(KafkaCodecError) -> Self {
        let version: Int16 = try buffer.readKafkaInteger("assignment.version")
        guard version >= 0 else { throw KafkaCodecError(.invalidValue, "consumer assignment has version \(version)") }
        let assigned = try ConsumerProtocolTopicPartitions.read(&buffer, "assignment.assigned_partitions")
        let userData = try buffer.readKafkaNullableBytes("assignment.user_data")
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return Self(version: version, assignedPartitions: assigned, userData: userData)
    }

    public static func decode(_ bytes: ByteBuffer) throws(KafkaCodecError) -> Self {
        var copy = bytes
        return try decode(from: &copy)
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeKafkaInteger(version)
        ConsumerProtocolTopicPartitions.write(&buffer, assignedPartitions)
        buffer.writeKafkaNullableBytes(userData)
    }

    public func encoded() -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(into: &buffer)
        return buffer
    }
}
