import NIOCore

/// ListGroups (key 16), versions 0-2 (non-flexible). The request has no fields before v4.
public struct ListGroupsRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .listGroups }

    public init() {}

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        return ListGroupsRequest()
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {}
}

public struct ListGroupsResponse: KafkaResponseBody, Hashable {
    public struct ListedGroup: Sendable, Hashable {
        public var groupId: String
        public var protocolType: String

        public init(groupId: String, protocolType: String) {
            self.groupId = groupId
            self.protocolType = protocolType
        }
    }

    /// v1+; 0 when absent.
    public var throttleTimeMs: Int32
    public var errorCode: Int16
    public var groups: [ListedGroup]

    public init(throttleTimeMs: Int32 = 0, errorCode: Int16 = 0, groups: [ListedGroup]) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.groups = groups
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .listGroups)
        let throttleTimeMs: Int32 = try version >= 1 ? buffer.readKafkaInteger("throttle_time_ms") : 0
        let errorCode: Int16 = try buffer.readKafkaInteger("error_code")
        let groups = try buffer.readKafkaArray("groups", minimumElementSize: 4) { (b: inout ByteBuffer) throws(KafkaCodecError) -> ListedGroup in
            ListedGroup(groupId: try b.readKafkaString("groups.group_id"),
                        protocolType: try b.readKafkaString("groups.protocol_type"))
        }
        return ListGroupsResponse(throttleTimeMs: throttleTimeMs, errorCode: errorCode, groups: groups)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        if version >= 1 { buffer.writeKafkaInteger(throttleTimeMs) }
        buffer.writeKafkaInteger(errorCode)
        buffer.writeKafkaArray(groups) { b, group in
            b.writeKafkaString(group.groupId)
            b.writeKafkaString(group.protocolType)
        }
    }
}
