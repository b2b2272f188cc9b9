import NIOCore

/// DescribeGroups (key 15), versions 0-4 (non-flexible).
public struct DescribeGroupsRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .describeGroups }

    public var groups: [String]
    /// v3+; false when absent.
    public var includeAuthorizedOperations: Bool

    public init(groups: [String], includeAuthorizedOperations: Bool = false) {
        self.groups = groups
        self.includeAuthorizedOperations = includeAuthorizedOperations
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let groups = try KafkaGroupWire.readStringArray(&buffer, "groups")
        let include = try version >= 3 ? buffer.readKafkaBool("include_authorized_operations") : false
        return DescribeGroupsRequest(groups: groups, includeAuthorizedOperations: include)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        KafkaGroupWire.writeStringArray(&buffer, groups)
        if version >= 3 { buffer.writeKafkaBool(includeAuthorizedOperations) }
    }
}

public struct DescribeGroupsResponse: KafkaResponseBody, Hashable {
    public struct DescribedGroupMember: Sendable, Hashable {
        public var memberId: String
        /// v4+; null when absent.
        public var groupInstanceId: String?
        public var clientId: String
        public var clientHost: String
        /// Opaque (for "consumer": a `ConsumerProtocolSubscription`).
        public var memberMetadata: ByteBuffer
        /// Opaque (for "consumer": a `ConsumerProtocolAssignment`).
        public var memberAssignment: ByteBuffer

        public init(memberId: String, groupInstanceId: String? = nil, clientId: String, clientHost: String,
                    memberMetadata: ByteBuffer, memberAssignment: ByteBuffer) {
            self.memberId = memberId
            self.groupInstanceId = groupInstanceId
            self.clientId = clientId
            self.clientHost = clientHost
            self.memberMetadata = memberMetadata
            self.memberAssignment = memberAssignment
        }
    }

    public struct DescribedGroup: Sendable, Hashable {
        public var errorCode: Int16
        public var groupId: String
        /// "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead" (or "" on error).
        public var groupState: String
        public var protocolType: String
        /// The chosen protocol (assignor) name.
        public var protocolData: String
        public var members: [DescribedGroupMember]
        /// v3+; Int32.min (not requested) when absent.
        public var authorizedOperations: Int32

        public init(errorCode: Int16, groupId: String, groupState: String, protocolType: String, protocolData: String,
                    members: [DescribedGroupMember], authorizedOperations: Int32 = Int32.min) {
            self.errorCode = errorCode
            self.groupId = groupId
            self.groupState = groupState
            self.protocolType = protocolType
            self.protocolData = protocolData
            self.members = members
            self.authorizedOperations = authorizedOperations
        }
    }

    /// v1+; 0 when absent.
    public var throttleTimeMs: Int32
    public var groups: [DescribedGroup]

    public init(throttleTimeMs: Int32 = 0, groups: [DescribedGroup]) {
        self.throttleTimeMs = throttleTimeMs
        self.groups = groups
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .describeGroups)
        let throttleTimeMs: Int32 = try version >= 1 ? buffer.readKafkaInteger("throttle_time_ms") : 0
        let groupSize = version >= 3 ? 18 : 14
        let memberSize = version >= 4 ? 16 : 14
        let groups = try buffer.readKafkaArray("groups", minimumElementSize: groupSize) { (b: inout ByteBuffer) throws(KafkaCodecError) -> DescribedGroup in
            let errorCode: Int16 = try b.readKafkaInteger("groups.error_code")
            let groupId = try b.readKafkaString("groups.group_id")
            let groupState = try b.readKafkaString("groups.group_state")
            let protocolType = try b.readKafkaString("groups.protocol_type")
            let protocolData = try b.readKafkaString("groups.protocol_data")
            let members = try b.readKafkaArray("groups.members", minimumElementSize: memberSize) { (m: inout ByteBuffer) throws(KafkaCodecError) -> DescribedGroupMember in
                let memberId = try m.readKafkaString("members.member_id")
                let instance = try version >= 4 ? m.readKafkaNullableString("members.group_instance_id") : nil
                return DescribedGroupMember(memberId: memberId, groupInstanceId: instance,
                                            clientId: try m.readKafkaString("members.client_id"),
                                            clientHost: try m.readKafkaString("members.client_host"),
                                            memberMetadata: try m.readKafkaBytes("members.member_metadata"),
                                            memberAssignment: try m.readKafkaBytes("members.member_assignment"))
            }
            let operations: Int32 = try version >= 3 ? b.readKafkaInteger("groups.authorized_operations") : Int32.min
            return DescribedGroup(errorCode: errorCode, groupId: groupId, groupState: groupState, protocolType: protocolType,
                                  protocolData: protocolData, members: members, authorizedOperations: operations)
        }
        return DescribeGroupsResponse(throttleTimeMs: throttleTimeMs, groups: groups)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        if version >= 1 { buffer.writeKafkaInteger(throttleTimeMs) }
        buffer.writeKafkaArray(groups) { b, group in
            b.writeKafkaInteger(group.errorCode)
            b.writeKafkaString(group.groupId)
            b.writeKafkaString(group.groupState)
            b.writeKafkaString(group.protocolType)
            b.writeKafkaString(group.protocolData)
            b.writeKafkaArray(group.members) { m, member in
                m.writeKafkaString(member.memberId)
                if version >= 4 { m.writeKafkaNullableString(member.groupInstanceId) }
                m.writeKafkaString(member.clientId)
                m.writeKafkaString(member.clientHost)
                m.writeKafkaBytes(member.memberMetadata)
                m.writeKafkaBytes(member.memberAssignment)
            }
            if version >= 3 { b.writeKafkaInteger(group.authorizedOperations) }
        }
    }
}
