import NIOCore

/// FindCoordinator (key 10), versions 0-2 (non-flexible).
public struct FindCoordinatorRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .findCoordinator }

    /// The group id (keyType 0) or transactional id (keyType 1).
    public var key: String
    /// v1+; 0 (group) when absent.
    public var keyType: Int8

    public init(key: String, keyType: Int8 = 0) {
        self.key = key
        self.keyType = keyType
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let key = try buffer.readKafkaString("key")
        let keyType: Int8 = try version >= 1 ? buffer.readKafkaInteger("key_type") : 0
        return FindCoordinatorRequest(key: key, keyType: keyType)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaString(key)
        if version >= 1 { buffer.writeKafkaInteger(keyType) }
    }
}

public struct FindCoordinatorResponse: KafkaResponseBody, Hashable {
    /// v1+; 0 when absent.
    public var throttleTimeMs: Int32
    public var errorCode: Int16
    /// v1+; null when absent.
    public var errorMessage: String?
    public var nodeId: Int32
    public var host: String
    public var port: Int32

    public init(throttleTimeMs: Int32 = 0, errorCode: Int16, errorMessage: String? = nil,
                nodeId: Int32, host: String, port: Int32) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.nodeId = nodeId
        self.host = host
        self.port = port
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .findCoordinator)
        let throttleTimeMs: Int32 = try version >= 1 ? buffer.readKafkaInteger("throttle_time_ms") : 0
        let errorCode: Int16 = try buffer.readKafkaInteger("error_code")
        let errorMessage = try version >= 1 ? buffer.readKafkaNullableString("error_message") : nil
        return FindCoordinatorResponse(throttleTimeMs: throttleTimeMs, errorCode: errorCode, errorMessage: errorMessage,
                                       nodeId: try buffer.readKafkaInteger("node_id"),
                                       host: try buffer.readKafkaString("host"),
                                       port: try buffer.readKafkaInteger("port"))
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        if version >= 1 { buffer.writeKafkaInteger(throttleTimeMs) }
        buffer.writeKafkaInteger(errorCode)
        if version >= 1 { buffer.writeKafkaNullableString(errorMessage) }
        buffer.writeKafkaInteger(nodeId)
        buffer.writeKafkaString(host)
        buffer.writeKafkaInteger(port)
    }
}
