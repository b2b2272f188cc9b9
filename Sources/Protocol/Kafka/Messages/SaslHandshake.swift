import NIOCore

/// SaslHandshake (key 17), versions 0-1 (non-flexible): the client names the mechanism it
/// wants. v0 was followed by raw SASL tokens; v1 by SaslAuthenticate requests, the only
/// exchange paynode speaks after a handshake.
public struct SaslHandshakeRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .saslHandshake }

    public var mechanism: String

    public init(mechanism: String) {
        self.mechanism = mechanism
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        return SaslHandshakeRequest(mechanism: try buffer.readKafkaString("mechanism"))
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaString(mechanism)
    }
}

/// SaslHandshake response: error code (0, or 33 UNSUPPORTED_SASL_MECHANISM, 34
/// ILLEGAL_SASL_STATE) and the mechanisms the listener enables, in both cases.
public struct SaslHandshakeResponse: KafkaResponseBody, Hashable {
    public var errorCode: Int16
    public var mechanisms: [String]

    public init(errorCode: Int16, mechanisms: [String]) {
        self.errorCode = errorCode
        self.mechanisms = mechanisms
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .saslHandshake)
        let errorCode: Int16 = try buffer.readKafkaInteger("error_code")
        return SaslHandshakeResponse(errorCode: errorCode, mechanisms: try KafkaGroupWire.readStringArray(&buffer, "mechanisms"))
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaInteger(errorCode)
        KafkaGroupWire.writeStringArray(&buffer, mechanisms)
    }
}
