import NIOCore

/// Heartbeat (key 12), versions 0-3 (non-flexible).
public struct HeartbeatRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .heartbeat }

    public var groupId: String
    public var generationId: Int32
    public var memberId: String
    /// v3+; null when absent.
    public var groupInstanceId: String?

    public init(groupId: String, generationId: Int32, memberId: String, groupInstanceId: String? = nil) {
        self.groupId = groupId
        self.generationId = generationId
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let groupId = try buffer.readKafkaString("group_id")
        let generationId: Int32 = try buffer.readKafkaInteger("generation_id")
        let memberId = try buffer.readKafkaString("member_id")
        let groupInstanceId = try version >= 3 ? buffer.readKafkaNullableString("group_instance_id") : nil
        return HeartbeatRequest(groupId: groupId, generationId: generationId, memberId: memberId,
                                groupInstanceId: groupInstanceId)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaString(groupId)
        buffer.writeKafkaInteger(generationId)
        buffer.writeKafkaString(memberId)
        if version >= 3 { buffer.writeKafkaNullableString(groupInstanceId) }
    }
}

public struct HeartbeatResponse: KafkaResponseBody, Hashable {
    /// v1+; 0 when absent.
    public var throttleTimeMs: Int32
    public var errorCode: Int16

    public init(throttleTimeMs: Int32 = 0, errorCode: Int16) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .heartbeat)
        let throttleTimeMs: Int32 = try version >= 1 ? buffer.readKafkaInteger("throttle_time_ms") : 0
        return HeartbeatResponse(throttleTimeMs: throttleTimeMs, errorCode: try buffer.readKafkaInteger("error_code"))
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        if version >= 1 { buffer.writeKafkaInteger(throttleTimeMs) }
        buffer.writeKafkaInteger(errorCode)
    }
}
