import NIOCore

/// SaslAuthenticate (key 36), versions 0-2 (v2 is flexible: compact bytes and tagged fields;
/// Java clients send it): one SASL token from the client, after a v1 SaslHandshake.
public struct SaslAuthenticateRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .saslAuthenticate }

    public var authBytes: [UInt8]

    public init(authBytes: [UInt8]) {
        self.authBytes = authBytes
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let flexible = apiKey.isFlexible(version)
        var bytes = try flexible ? buffer.readKafkaCompactBytes("auth_bytes") : buffer.readKafkaBytes("auth_bytes")
        if flexible { try buffer.skipKafkaTaggedFields("tagged fields") }
        return SaslAuthenticateRequest(authBytes: bytes.readBytes(length: bytes.readableBytes) ?? [])
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        if Self.apiKey.isFlexible(version) {
            buffer.writeKafkaCompactBytes(ByteBuffer(bytes: authBytes))
            buffer.writeKafkaEmptyTaggedFields()
        } else {
            buffer.writeKafkaBytes(ByteBuffer(bytes: authBytes))
        }
    }
}

/// SaslAuthenticate response: error code and message (58 SASL_AUTHENTICATION_FAILED says why),
/// the server's SASL token, and (v1+) the session lifetime in milliseconds, 0 for "no
/// re-authentication required" (KIP-368).
public struct SaslAuthenticateResponse: KafkaResponseBody, Hashable {
    public var errorCode: Int16
    public var errorMessage: String?
    public var authBytes: [UInt8]
    /// v1+.
    public var sessionLifetimeMs: Int64

    public init(errorCode: Int16, errorMessage: String? = nil, authBytes: [UInt8] = [], sessionLifetimeMs: Int64 = 0) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.authBytes = authBytes
        self.sessionLifetimeMs = sessionLifetimeMs
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .saslAuthenticate)
        let flexible = KafkaAPIKey.saslAuthenticate.isFlexible(version)
        let errorCode: Int16 = try buffer.readKafkaInteger("error_code")
        let errorMessage = try flexible ? buffer.readKafkaCompactNullableString("error_message")
            : buffer.readKafkaNullableString("error_message")
        var bytes = try flexible ? buffer.readKafkaCompactBytes("auth_bytes") : buffer.readKafkaBytes("auth_bytes")
        let lifetime: Int64 = try version >= 1 ? buffer.readKafkaInteger("session_lifetime_ms") : 0
        if flexible { try buffer.skipKafkaTaggedFields("tagged fields") }
        return SaslAuthenticateResponse(errorCode: errorCode, errorMessage: errorMessage,
                                        authBytes: bytes.readBytes(length: bytes.readableBytes) ?? [], sessionLifetimeMs: lifetime)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaInteger(errorCode)
        if KafkaAPIKey.saslAuthenticate.isFlexible(version) {
            buffer.writeKafkaCompactNullableString(errorMessage)
            buffer.writeKafkaCompactBytes(ByteBuffer(bytes: authBytes))
            buffer.writeKafkaInteger(sessionLifetimeMs)
            buffer.writeKafkaEmptyTaggedFields()
            return
        }
        buffer.writeKafkaNullableString(errorMessage)
        buffer.writeKafkaBytes(ByteBuffer(bytes: authBytes))
        if version >= 1 { buffer.writeKafkaInteger(sessionLifetimeMs) }
    }
}
