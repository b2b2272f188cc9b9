import NIOCore

/// SyncGroup (key 14), versions 0-3 (non-flexible).
public struct SyncGroupRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .syncGroup }

    public struct Assignment: Sendable, Hashable {
        public var memberId: String
        /// Opaque (for "consumer": a `ConsumerProtocolAssignment`).
        public var assignment: ByteBuffer

        public init(memberId: String, assignment: ByteBuffer) {
            self.memberId = memberId
            self.assignment = assignment
        }
    }

    public var groupId: String
    public var generationId: Int32
    public var memberId: String
    /// v3+; null when absent.
    public var groupInstanceId: String?
    /// Sent by the leader only; empty from followers.
    public var assignments: [Assignment]

    public init(groupId: String, generationId: Int32, memberId: String, groupInstanceId: String? = nil,
                assignments: [Assignment] = []) {
        self.groupId = groupId
        self.generationId = generationId
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.assignments = assignments
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let groupId = try buffer.readKafkaString("group_id")
        let generationId: Int32 = try buffer.readKafkaInteger("generation_id")
        let memberId = try buffer.readKafkaString("member_id")
        let groupInstanceId = try version >= 3 ? buffer.readKafkaNullableString("group_instance_id") : nil
        let assignments = try buffer.readKafkaArray("assignments", minimumElementSize: 6) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Assignment in
            Assignment(memberId: try b.readKafkaString("assignments.member_id"),
                       assignment: try b.readKafkaBytes("assignments.assignment"))
        }
        return SyncGroupRequest(groupId: groupId, generationId: generationId, memberId: memberId,
                                groupInstanceId: groupInstanceId, assignments: assignments)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaString(groupId)
        buffer.writeKafkaInteger(generationId)
        buffer.writeKafkaString(memberId)
        if version >= 3 { buffer.writeKafkaNullableString(groupInstanceId) }
        buffer.writeKafkaArray(assignments) { b, assignment in
            b.writeKafkaString(assignment.memberId)
            b.writeKafkaBytes(assignment.assignment)
        }
    }
}

public struct SyncGroupResponse: KafkaResponseBody, Hashable {
    /// v1+; 0 when absent.
    public var throttleTimeMs: Int32
    public var errorCode: Int16
    /// This member's assignment (opaque).
    public var assignment: ByteBuffer

    public init(throttleTimeMs: Int32 = 0, errorCode: Int16, assignment: ByteBuffer = ByteBuffer()) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.assignment = assignment
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .syncGroup)
        let throttleTimeMs: Int32 = try version >= 1 ? buffer.readKafkaInteger("throttle_time_ms") : 0
        return SyncGroupResponse(throttleTimeMs: throttleTimeMs, errorCode: try buffer.readKafkaInteger("error_code"),
                                 assignment: try buffer.readKafkaBytes("assignment"))
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        if version >= 1 { buffer.writeKafkaInteger(throttleTimeMs) }
        buffer.writeKafkaInteger(errorCode)
        buffer.writeKafkaBytes(assignment)
    }
}
