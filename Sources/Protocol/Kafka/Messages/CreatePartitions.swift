import NIOCore

/// CreatePartitions (key 37), versions 0-3 (v2+ flexible): what `kafka-topics.sh --alter
/// --partitions` and AdminClient.createPartitions send. Layout per Apache Kafka's
/// `CreatePartitionsRequest.json` / `CreatePartitionsResponse.json`.
public struct CreatePartitionsRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .createPartitions }

    public struct Topic: Sendable, Hashable {
        public var name: String
        /// The partition count the topic should have afterwards (not the number to add).
        public var count: Int32
        /// Replica broker ids of each new partition; null to let the broker choose.
        public var assignments: [[Int32]]?

        public init(name: String, count: Int32, assignments: [[Int32]]? = nil) {
            self.name = name
            self.count = count
            self.assignments = assignments
        }
    }

    public var topics: [Topic]
    public var timeoutMs: Int32
    public var validateOnly: Bool

    public init(topics: [Topic], timeoutMs: Int32 = 30_000, validateOnly: Bool = false) {
        self.topics = topics
        self.timeoutMs = timeoutMs
        self.validateOnly = validateOnly
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let flexible = apiKey.isFlexible(version)
        let topics = try buffer.readKafkaArray("topics", flexible: flexible, minimumElementSize: flexible ? 6 : 10) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Topic in
            let name = try b.readKafkaString("topics.name", flexible: flexible)
            let count: Int32 = try b.readKafkaInteger("topics.count")
            let assignments = try b.readKafkaNullableArray("topics.assignments", flexible: flexible, minimumElementSize: 1) { (a: inout ByteBuffer) throws(KafkaCodecError) -> [Int32] in
                let brokers = try a.readKafkaArray("assignments.broker_ids", flexible: flexible, minimumElementSize: 4) { (i: inout ByteBuffer) throws(KafkaCodecError) -> Int32 in
                    try i.readKafkaInteger("assignments.broker_ids[]")
                }
                try a.skipKafkaTaggedFields("assignments tagged fields", flexible: flexible)
                return brokers
            }
            try b.skipKafkaTaggedFields("topics tagged fields", flexible: flexible)
            return Topic(name: name, count: count, assignments: assignments)
        }
        let timeoutMs: Int32 = try buffer.readKafkaInteger("timeout_ms")
        let validateOnly = try buffer.readKafkaBool("validate_only")
        try buffer.skipKafkaTaggedFields("tagged fields", flexible: flexible)
        return CreatePartitionsRequest(topics: topics, timeoutMs: timeoutMs, validateOnly: validateOnly)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeKafkaArray(topics, flexible: flexible) { b, topic in
            b.writeKafkaString(topic.name, flexible: flexible)
            b.writeKafkaInteger(topic.count)
            b.writeKafkaNullableArray(topic.assignments, flexible: flexible) { a, brokers in
                a.writeKafkaArray(brokers, flexible: flexible) { $0.writeKafkaInteger($1) }
                a.writeKafkaEmptyTaggedFields(flexible: flexible)
            }
            b.writeKafkaEmptyTaggedFields(flexible: flexible)
        }
        buffer.writeKafkaInteger(timeoutMs)
        buffer.writeKafkaBool(validateOnly)
        buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
    }
}

public struct CreatePartitionsResponse: KafkaResponseBody, Hashable {
    public struct Result: Sendable, Hashable {
        public var name: String
        public var errorCode: Int16
        public var errorMessage: String?

        public init(name: String, errorCode: Int16 = 0, errorMessage: String? = nil) {
            self.name = name
            self.errorCode = errorCode
            self.errorMessage = errorMessage
        }
    }

    public var throttleTimeMs: Int32
    public var results: [Result]

    public init(throttleTimeMs: Int32 = 0, results: [Result]) {
        self.throttleTimeMs = throttleTimeMs
        self.results = results
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .createPartitions)
        let flexible = KafkaAPIKey.createPartitions.isFlexible(version)
        let throttle: Int32 = try buffer.readKafkaInteger("throttle_time_ms")
        let results = try buffer.readKafkaArray("results", flexible: flexible, minimumElementSize: 4) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Result in
            let result = Result(name: try b.readKafkaString("results.name", flexible: flexible),
                                errorCode: try b.readKafkaInteger("results.error_code"),
                                errorMessage: try b.readKafkaNullableString("results.error_message", flexible: flexible))
            try b.skipKafkaTaggedFields("results tagged fields", flexible: flexible)
            return result
        }
        try buffer.skipKafkaTaggedFields("tagged fields", flexible: flexible)
        return CreatePartitionsResponse(throttleTimeMs: throttle, results: results)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let flexible = KafkaAPIKey.createPartitions.isFlexible(version)
        buffer.writeKafkaInteger(throttleTimeMs)
        buffer.writeKafkaArray(results, flexible: flexible) { b, result in
            b.writeKafkaString(result.name, flexible: flexible)
            b.writeKafkaInteger(result.errorCode)
            b.writeKafkaNullableString(result.errorMessage, flexible: flexible)
            b.writeKafkaEmptyTaggedFields(flexible: flexible)
        }
        buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
    }
}
