import NIOCore

/// CreateTopics (key 19), versions 0-4 (non-flexible). Layout per Apache Kafka's
/// `CreateTopicsRequest.json` / `CreateTopicsResponse.json`.
public struct CreateTopicsRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .createTopics }

    public struct CreatableReplicaAssignment: Sendable, Hashable {
        public var partitionIndex: Int32
        public var brokerIds: [Int32]

        public init(partitionIndex: Int32, brokerIds: [Int32]) {
            self.partitionIndex = partitionIndex
            self.brokerIds = brokerIds
        }
    }

    public struct CreatableTopicConfig: Sendable, Hashable {
        public var name: String
        public var value: String?

        public init(name: String, value: String?) {
            self.name = name
            self.value = value
        }
    }

    public struct CreatableTopic: Sendable, Hashable {
        public var name: String
        /// -1 with a manual assignment or to use the broker default.
        public var numPartitions: Int32
        /// -1 with a manual assignment or to use the broker default.
        public var replicationFactor: Int16
        public var assignments: [CreatableReplicaAssignment]
        public var configs: [CreatableTopicConfig]

        public init(name: String, numPartitions: Int32, replicationFactor: Int16,
                    assignments: [CreatableReplicaAssignment] = [], configs: [CreatableTopicConfig] = []) {
            self.name = name
            self.numPartitions = numPartitions
            self.replicationFactor = replicationFactor
            self.assignments = assignments
            self.configs = configs
        }
    }

    public var topics: [CreatableTopic]
    public var timeoutMs: Int32
    /// v1+; false when absent.
    public var validateOnly: Bool

    public init(topics: [CreatableTopic], timeoutMs: Int32 = 60000, validateOnly: Bool = false) {
        self.topics = topics
        self.timeoutMs = timeoutMs
        self.validateOnly = validateOnly
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let topics = try buffer.readKafkaArray("topics", minimumElementSize: 16) { (b: inout ByteBuffer) throws(KafkaCodecError) -> CreatableTopic in
            let name = try b.readKafkaString("topics.name")
            let numPartitions: Int32 = try b.readKafkaInteger("topics.num_partitions")
            let replicationFactor: Int16 = try b.readKafkaInteger("topics.replication_factor")
            let assignments = try b.readKafkaArray("topics.assignments", minimumElementSize: 8) { (a: inout ByteBuffer) throws(KafkaCodecError) -> CreatableReplicaAssignment in
                CreatableReplicaAssignment(partitionIndex: try a.readKafkaInteger("assignments.partition_index"),
                                           brokerIds: try KafkaGroupWire.readInt32Array(&a, "assignments.broker_ids"))
            }
            let configs = try b.readKafkaArray("topics.configs", minimumElementSize: 4) { (c: inout ByteBuffer) throws(KafkaCodecError) -> CreatableTopicConfig in
                CreatableTopicConfig(name: try c.readKafkaString("configs.name"),
                                     value: try c.readKafkaNullableString("configs.value"))
            }
            return CreatableTopic(name: name, numPartitions: numPartitions, replicationFactor: replicationFactor,
                                  assignments: assignments, configs: configs)
        }
        let timeoutMs: Int32 = try buffer.readKafkaInteger("timeout_ms")
        let validateOnly = try version >= 1 ? buffer.readKafkaBool("validate_only") : false
        return CreateTopicsRequest(topics: topics, timeoutMs: timeoutMs, validateOnly: validateOnly)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaArray(topics) { b, topic in
            b.writeKafkaString(topic.name)
            b.writeKafkaInteger(topic.numPartitions)
            b.writeKafkaInteger(topic.replicationFactor)
            b.writeKafkaArray(topic.assignments) { a, assignment in
                a.writeKafkaInteger(assignment.partitionIndex)
                KafkaGroupWire.writeInt32Array(&a, assignment.brokerIds)
            }
            b.writeKafkaArray(topic.configs) { c, config in
                c.writeKafkaString(config.name)
                c.writeKafkaNullableString(config.value)
            }
        }
        buffer.writeKafkaInteger(timeoutMs)
        if version >= 1 { buffer.writeKafkaBool(validateOnly) }
    }
}

public struct CreateTopicsResponse: KafkaResponseBody, Hashable {
    public struct CreatableTopicResult: Sendable, Hashable {
        public var name: String
        public var errorCode: Int16
        /// v1+; null when absent.
        public var errorMessage: String?

        public init(name: String, errorCode: Int16, errorMessage: String? = nil) {
            self.name = name
            self.errorCode = errorCode
            self.errorMessage = errorMessage
        }
    }

    /// v2+; 0 when absent.
    public var throttleTimeMs: Int32
    public var topics: [CreatableTopicResult]

    public init(throttleTimeMs: Int32 = 0, topics: [CreatableTopicResult]) {
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .createTopics)
        let throttleTimeMs: Int32 = try version >= 2 ? buffer.readKafkaInteger("throttle_time_ms") : 0
        let topics = try buffer.readKafkaArray("topics", minimumElementSize: 4) { (b: inout ByteBuffer) throws(KafkaCodecError) -> CreatableTopicResult in
            CreatableTopicResult(name: try b.readKafkaString("topics.name"),
                                 errorCode: try b.readKafkaInteger("topics.error_code"),
                                 errorMessage: try version >= 1 ? b.readKafkaNullableString("topics.error_message") : nil)
        }
        return CreateTopicsResponse(throttleTimeMs: throttleTimeMs, topics: topics)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        if version >= 2 { buffer.writeKafkaInteger(throttleTimeMs) }
        buffer.writeKafkaArray(topics) { b, topic in
            b.writeKafkaString(topic.name)
            b.writeKafkaInteger(topic.errorCode)
            if version >= 1 { b.writeKafkaNullableString(topic.errorMessage) }
        }
    }
}
