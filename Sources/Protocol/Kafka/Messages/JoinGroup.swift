import NIOCore

/// JoinGroup (key 11), versions 0-5 (non-flexible).
public struct JoinGroupRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .joinGroup }

    public struct GroupProtocol: Sendable, Hashable {
        /// The assignor name, e.g. "range".
        public var name: String
        /// Opaque protocol metadata (for "consumer": a `ConsumerProtocolSubscription`).
        public var metadata: ByteBuffer

        public init(name: String, metadata: ByteBuffer) {
            self.name = name
            self.metadata = metadata
        }
    }

    public var groupId: String
    public var sessionTimeoutMs: Int32
    /// v1+. At v0 it is absent and decodes as `sessionTimeoutMs` (what Kafka's
    /// JoinGroupRequest does for v0).
    public var rebalanceTimeoutMs: Int32
    /// Empty on a first join.
    public var memberId: String
    /// v5+; null when absent.
    public var groupInstanceId: String?
    public var protocolType: String
    public var protocols: [GroupProtocol]

    public init(groupId: String, sessionTimeoutMs: Int32, rebalanceTimeoutMs: Int32, memberId: String,
                groupInstanceId: String? = nil, protocolType: String, protocols: [GroupProtocol]) {
        self.groupId = groupId
        self.sessionTimeoutMs = sessionTimeoutMs
        self.rebalanceTimeoutMs = rebalanceTimeoutMs
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.protocolType = protocolType
        self.protocols = protocols
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let groupId = try buffer.readKafkaString("group_id")
        let sessionTimeoutMs: Int32 = try buffer.readKafkaInteger("session_timeout_ms")
        let rebalanceTimeoutMs: Int32 = try version >= 1 ? buffer.readKafkaInteger("rebalance_timeout_ms") : sessionTimeoutMs
        let memberId = try buffer.readKafkaString("member_id")
        let groupInstanceId = try version >= 5 ? buffer.readKafkaNullableString("group_instance_id") : nil
        let protocolType = try buffer.readKafkaString("protocol_type")
        let protocols = try buffer.readKafkaArray("protocols", minimumElementSize: 6) { (b: inout ByteBuffer) throws(KafkaCodecError) -> GroupProtocol in
            GroupProtocol(name: try b.readKafkaString("protocols.name"), metadata: try b.readKafkaBytes("protocols.metadata"))
        }
        return JoinGroupRequest(groupId: groupId, sessionTimeoutMs: sessionTimeoutMs, rebalanceTimeoutMs: rebalanceTimeoutMs,
                                memberId: memberId, groupInstanceId: groupInstanceId, protocolType: protocolType,
                                protocols: protocols)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaString(groupId)
        buffer.writeKafkaInteger(sessionTimeoutMs)
        if version >= 1 { buffer.writeKafkaInteger(rebalanceTimeoutMs) }
        buffer.writeKafkaString(memberId)
        if version >= 5 { buffer.writeKafkaNullableString(groupInstanceId) }
        buffer.writeKafkaString(protocolType)
        buffer.writeKafkaArray(protocols) { b, proto in
            b.writeKafkaString(proto.name)
            b.writeKafkaBytes(proto.metadata)
        }
    }
}

public struct JoinGroupResponse: KafkaResponseBody, Hashable {
    public struct Member: Sendable, Hashable {
        public var memberId: String
        /// v5+; null when absent.
        public var groupInstanceId: String?
        /// The member's metadata for the chosen protocol (opaque).
        public var metadata: ByteBuffer

        public init(memberId: String, groupInstanceId: String? = nil, metadata: ByteBuffer) {
            self.memberId = memberId
            self.groupInstanceId = groupInstanceId
            self.metadata = metadata
        }
    }

    /// v2+; 0 when absent.
    public var throttleTimeMs: Int32
    public var errorCode: Int16
    public var generationId: Int32
    /// The chosen protocol (non-nullable in v0-5; empty on errors).
    public var protocolName: String
    public var leader: String
    public var memberId: String
    /// Filled for the leader only.
    public var members: [Member]

    public init(throttleTimeMs: Int32 = 0, errorCode: Int16, generationId: Int32 = -1, protocolName: String = "",
                leader: String = "", memberId: String, members: [Member] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.generationId = generationId
        self.protocolName = protocolName
        self.leader = leader
        self.memberId = memberId
        self.members = members
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .joinGroup)
        let throttleTimeMs: Int32 = try version >= 2 ? buffer.readKafkaInteger("throttle_time_ms") : 0
        let errorCode: Int16 = try buffer.readKafkaInteger("error_code")
        let generationId: Int32 = try buffer.readKafkaInteger("generation_id")
        let protocolName = try buffer.readKafkaString("protocol_name")
        let leader = try buffer.readKafkaString("leader")
        let memberId = try buffer.readKafkaString("member_id")
        let memberSize = version >= 5 ? 8 : 6
        let members = try buffer.readKafkaArray("members", minimumElementSize: memberSize) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Member in
            let id = try b.readKafkaString("members.member_id")
            let instance = try version >= 5 ? b.readKafkaNullableString("members.group_instance_id") : nil
            return Member(memberId: id, groupInstanceId: instance, metadata: try b.readKafkaBytes("members.metadata"))
        }
        return JoinGroupResponse(throttleTimeMs: throttleTimeMs, errorCode: errorCode, generationId: generationId,
                                 protocolName: protocolName, leader: leader, memberId: memberId, members: members)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        if version >= 2 { buffer.writeKafkaInteger(throttleTimeMs) }
        buffer.writeKafkaInteger(errorCode)
        buffer.writeKafkaInteger(generationId)
        buffer.writeKafkaString(protocolName)
        buffer.writeKafkaString(leader)
        buffer.writeKafkaString(memberId)
        buffer.writeKafkaArray(members) { b, member in
            b.writeKafkaString(member.memberId)
            if version >= 5 { b.writeKafkaNullableString(member.groupInstanceId) }
            b.writeKafkaBytes(member.metadata)
        }
    }
}
