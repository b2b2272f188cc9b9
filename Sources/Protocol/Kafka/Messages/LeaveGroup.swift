import NIOCore

/// LeaveGroup (key 13), versions 0-3 (non-flexible). v0-2 name a single `memberId`; v3 carries
/// a batch of `members` (KIP-345). Use `leavingMembers(version:)` to handle both alike.
public struct LeaveGroupRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .leaveGroup }

    public struct MemberIdentity: Sendable, Hashable {
        public var memberId: String
        public var groupInstanceId: String?

        public init(memberId: String, groupInstanceId: String? = nil) {
            self.memberId = memberId
            self.groupInstanceId = groupInstanceId
        }
    }

    public var groupId: String
    /// v0-2 only; "" when absent.
    public var memberId: String
    /// v3+ only; empty when absent.
    public var members: [MemberIdentity]

    public init(groupId: String, memberId: String = "", members: [MemberIdentity] = []) {
        self.groupId = groupId
        self.memberId = memberId
        self.members = members
    }

    /// The members leaving, whatever the version: v0-2 give one member without an instance id.
    public func leavingMembers(version: Int16) -> [MemberIdentity] {
        version >= 3 ? members : [MemberIdentity(memberId: memberId)]
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let groupId = try buffer.readKafkaString("group_id")
        if version >= 3 {
            let members = try buffer.readKafkaArray("members", minimumElementSize: 4) { (b: inout ByteBuffer) throws(KafkaCodecError) -> MemberIdentity in
                MemberIdentity(memberId: try b.readKafkaString("members.member_id"),
                               groupInstanceId: try b.readKafkaNullableString("members.group_instance_id"))
            }
            return LeaveGroupRequest(groupId: groupId, members: members)
        }
        return LeaveGroupRequest(groupId: groupId, memberId: try buffer.readKafkaString("member_id"))
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaString(groupId)
        if version >= 3 {
            buffer.writeKafkaArray(members) { b, member in
                b.writeKafkaString(member.memberId)
                b.writeKafkaNullableString(member.groupInstanceId)
            }
        } else {
            buffer.writeKafkaString(memberId)
        }
    }
}

public struct LeaveGroupResponse: KafkaResponseBody, Hashable {
    public struct MemberResponse: Sendable, Hashable {
        public var memberId: String
        public var groupInstanceId: String?
        public var errorCode: Int16

        public init(memberId: String, groupInstanceId: String? = nil, errorCode: Int16) {
            self.memberId = memberId
            self.groupInstanceId = groupInstanceId
            self.errorCode = errorCode
        }
    }

    /// v1+; 0 when absent.
    public var throttleTimeMs: Int32
    public var errorCode: Int16
    /// v3+; empty when absent.
    public var members: [MemberResponse]

    public init(throttleTimeMs: Int32 = 0, errorCode: Int16, members: [MemberResponse] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.members = members
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .leaveGroup)
        let throttleTimeMs: Int32 = try version >= 1 ? buffer.readKafkaInteger("throttle_time_ms") : 0
        let errorCode: Int16 = try buffer.readKafkaInteger("error_code")
        var members: [MemberResponse] = []
        if version >= 3 {
            members = try buffer.readKafkaArray("members", minimumElementSize: 6) { (b: inout ByteBuffer) throws(KafkaCodecError) -> MemberResponse in
                MemberResponse(memberId: try b.readKafkaString("members.member_id"),
                               groupInstanceId: try b.readKafkaNullableString("members.group_instance_id"),
                               errorCode: try b.readKafkaInteger("members.error_code"))
            }
        }
        return LeaveGroupResponse(throttleTimeMs: throttleTimeMs, errorCode: errorCode, members: members)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        if version >= 1 { buffer.writeKafkaInteger(throttleTimeMs) }
        buffer.writeKafkaInteger(errorCode)
        if version >= 3 {
            buffer.writeKafkaArray(members) { b, member in
                b.writeKafkaString(member.memberId)
                b.writeKafkaNullableString(member.groupInstanceId)
                b.writeKafkaInteger(member.errorCode)
            }
        }
    }
}
