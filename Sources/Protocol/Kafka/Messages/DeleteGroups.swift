import NIOCore

/// DeleteGroups (key 42), versions 0-2 (v2 flexible): what `kafka-consumer-groups.sh --delete`
/// and AdminClient.deleteConsumerGroups send. Layout per Apache Kafka's
/// `DeleteGroupsRequest.json` / `DeleteGroupsResponse.json`.
public struct DeleteGroupsRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .deleteGroups }

    public var groupsNames: [String]

    public init(groupsNames: [String]) {
        self.groupsNames = groupsNames
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let flexible = apiKey.isFlexible(version)
        let names = try buffer.readKafkaArray("groups_names", flexible: flexible, minimumElementSize: flexible ? 1 : 2) { (b: inout ByteBuffer) throws(KafkaCodecError) -> String in
            try b.readKafkaString("groups_names[]", flexible: flexible)
        }
        try buffer.skipKafkaTaggedFields("tagged fields", flexible: flexible)
        return DeleteGroupsRequest(groupsNames: names)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeKafkaArray(groupsNames, flexible: flexible) { b, name in b.writeKafkaString(name, flexible: flexible) }
        buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
    }
}

public struct DeleteGroupsResponse: KafkaResponseBody, Hashable {
    public struct Result: Sendable, Hashable {
        public var groupId: String
        public var errorCode: Int16

        public init(groupId: String, errorCode: Int16 = 0) {
            self.groupId = groupId
            self.errorCode = errorCode
        }
    }

    public var throttleTimeMs: Int32
    public var results: [Result]

    public init(throttleTimeMs: Int32 = 0, results: [Result]) {
        self.throttleTimeMs = throttleTimeMs
        self.results = results
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .deleteGroups)
        let flexible = KafkaAPIKey.deleteGroups.isFlexible(version)
        let throttle: Int32 = try buffer.readKafkaInteger("throttle_time_ms")
        let results = try buffer.readKafkaArray("results", flexible: flexible, minimumElementSize: 3) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Result in
            let result = Result(groupId: try b.readKafkaString("results.group_id", flexible: flexible),
                                errorCode: try b.readKafkaInteger("results.error_code"))
            try b.skipKafkaTaggedFields("results tagged fields", flexible: flexible)
            return result
        }
        try buffer.skipKafkaTaggedFields("tagged fields", flexible: flexible)
        return DeleteGroupsResponse(throttleTimeMs: throttle, results: results)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let flexible = KafkaAPIKey.deleteGroups.isFlexible(version)
        buffer.writeKafkaInteger(throttleTimeMs)
        buffer.writeKafkaArray(results, flexible: flexible) { b, result in
            b.writeKafkaString(result.groupId, flexible: flexible)
            b.writeKafkaInteger(result.errorCode)
            b.writeKafkaEmptyTaggedFields(flexible: flexible)
        }
        buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
    }
}
