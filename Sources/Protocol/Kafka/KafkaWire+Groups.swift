import NIOCore

/// Small helpers shared by the group, offset and admin codecs (CreateTopics, InitProducerId,
/// FindCoordinator, OffsetCommit, OffsetFetch, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
/// DescribeGroups, ListGroups, and the embedded consumer protocol). Kept in a namespace so they
/// cannot collide with helpers other codec files add to `ByteBuffer`.
enum KafkaGroupWire {
    /// Rejects versions outside the advertised range: decoding a flexible version with a
    /// non-flexible layout would silently misread compact fields.
    @inline(__always)
    static func check(_ version: Int16, _ api: KafkaAPIKey) throws(KafkaCodecError) {
        guard api.supportedVersions.contains(version) else {
            throw KafkaCodecError(.unsupportedVersion, "\(api) v\(version) is not supported (\(api.supportedVersions))")
        }
    }

    /// `[]int32`: INT32 count then big-endian INT32s; null reads as empty.
    static func readInt32Array(_ buffer: inout ByteBuffer, _ field: StaticString) throws(KafkaCodecError) -> [Int32] {
        try buffer.readKafkaArray(field, minimumElementSize: 4) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Int32 in
            try b.readKafkaInteger(field)
        }
    }

    static func writeInt32Array(_ buffer: inout ByteBuffer, _ values: [Int32]) {
        buffer.writeKafkaArray(values) { $0.writeKafkaInteger($1) }
    }

    /// `[]string` of non-null strings; null array reads as empty.
    static func readStringArray(_ buffer: inout ByteBuffer, _ field: StaticString) throws(KafkaCodecError) -> [String] {
        try buffer.readKafkaArray(field, minimumElementSize: 2) { (b: inout ByteBuffer) throws(KafkaCodecError) -> String in
            try b.readKafkaString(field)
        }
    }

    static func writeStringArray(_ buffer: inout ByteBuffer, _ values: [String]) {
        buffer.writeKafkaArray(values) { $0.writeKafkaString($1) }
    }
}
