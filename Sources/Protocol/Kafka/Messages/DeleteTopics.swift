import NIOCore

/// DeleteTopics (key 20), versions 0-6 (v4+ flexible): what `kafka-topics.sh --delete` and
/// AdminClient.deleteTopics send. Up to v5 topics are named; v6 names each by name or topic
/// id. Layout per Apache Kafka's `DeleteTopicsRequest.json` / `DeleteTopicsResponse.json`.
public struct DeleteTopicsRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .deleteTopics }

    /// One topic to delete: by name (v0-5 always; v6 when `topicId` is zero) or by id (v6).
    public struct Topic: Sendable, Hashable {
        public var name: String?
        public var topicId: KafkaUUID

        public init(name: String?, topicId: KafkaUUID = .zero) {
            self.name = name
            self.topicId = topicId
        }
    }

    public var topics: [Topic]
    public var timeoutMs: Int32

    public init(topics: [Topic], timeoutMs: Int32 = 30_000) {
        self.topics = topics
        self.timeoutMs = timeoutMs
    }

    public init(topicNames: [String], timeoutMs: Int32 = 30_000) {
        self.init(topics: topicNames.map { Topic(name: $0) }, timeoutMs: timeoutMs)
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let flexible = apiKey.isFlexible(version)
        let topics: [Topic]
        if version >= 6 {
            topics = try buffer.readKafkaArray("topics", flexible: true, minimumElementSize: 18) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Topic in
                let topic = Topic(name: try b.readKafkaNullableString("topics.name", flexible: true),
                                  topicId: try b.readKafkaUUID("topics.topic_id"))
                try b.skipKafkaTaggedFields("topics tagged fields", flexible: true)
                return topic
            }
        } else {
            topics = try buffer.readKafkaArray("topic_names", flexible: flexible, minimumElementSize: flexible ? 1 : 2) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Topic in
                Topic(name: try b.readKafkaString("topic_names[]", flexible: flexible))
            }
        }
        let timeoutMs: Int32 = try buffer.readKafkaInteger("timeout_ms")
        try buffer.skipKafkaTaggedFields("tagged fields", flexible: flexible)
        return DeleteTopicsRequest(topics: topics, timeoutMs: timeoutMs)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let flexible = Self.apiKey.isFlexible(version)
        if version >= 6 {
            buffer.writeKafkaArray(topics, flexible: true) { b, topic in
                b.writeKafkaNullableString(topic.name, flexible: true)
                b.writeKafkaUUID(topic.topicId)
                b.writeKafkaEmptyTaggedFields(flexible: true)
            }
        } else {
            buffer.writeKafkaArray(topics, flexible: flexible) { b, topic in b.writeKafkaString(topic.name ?? "", flexible: flexible) }
        }
        buffer.writeKafkaInteger(timeoutMs)
        buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
    }
}

public struct DeleteTopicsResponse: KafkaResponseBody, Hashable {
    public struct Result: Sendable, Hashable {
        /// Null in v6+ when the topic was named by an id paynode does not know.
        public var name: String?
        public var topicId: KafkaUUID
        public var errorCode: Int16
        /// v5+.
        public var errorMessage: String?

        public init(name: String?, topicId: KafkaUUID = .zero, errorCode: Int16 = 0, errorMessage: String? = nil) {
            self.name = name
            self.topicId = topicId
            self.errorCode = errorCode
            self.errorMessage = errorMessage
        }
    }

    public var throttleTimeMs: Int32
    public var responses: [Result]

    public init(throttleTimeMs: Int32 = 0, responses: [Result]) {
        self.throttleTimeMs = throttleTimeMs
        self.responses = responses
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .deleteTopics)
        let flexible = KafkaAPIKey.deleteTopics.isFlexible(version)
        let throttle: Int32 = try version >= 1 ? buffer.readKafkaInteger("throttle_time_ms") : 0
        let responses = try buffer.readKafkaArray("responses", flexible: flexible, minimumElementSize: 3) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Result in
            let name = try version >= 6 ? b.readKafkaNullableString("responses.name", flexible: flexible)
                : b.readKafkaString("responses.name", flexible: flexible)
            let topicId = try version >= 6 ? b.readKafkaUUID("responses.topic_id") : .zero
            let errorCode: Int16 = try b.readKafkaInteger("responses.error_code")
            let message = try version >= 5 ? b.readKafkaNullableString("responses.error_message", flexible: flexible) : nil
            try b.skipKafkaTaggedFields("responses tagged fields", flexible: flexible)
            return Result(name: name, topicId: topicId, errorCode: errorCode, errorMessage: message)
        }
        try buffer.skipKafkaTaggedFields("tagged fields", flexible: flexible)
        return DeleteTopicsResponse(throttleTimeMs: throttle, responses: responses)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let flexible = KafkaAPIKey.deleteTopics.isFlexible(version)
        if version >= 1 { buffer.writeKafkaInteger(throttleTimeMs) }
        buffer.writeKafkaArray(responses, flexible: flexible) { b, result in
            if version >= 6 {
                b.writeKafkaNullableString(result.name, flexible: flexible)
                b.writeKafkaUUID(result.topicId)
            } else {
                b.writeKafkaString(result.name ?? "", flexible: flexible)
            }
            b.writeKafkaInteger(result.errorCode)
            if version >= 5 { b.writeKafkaNullableString(result.errorMessage, flexible: flexible) }
            b.writeKafkaEmptyTaggedFields(flexible: flexible)
        }
        buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
    }
}
