import NIOCore

/// ApiVersions (key 18), versions 0-2. The request body is empty in these versions
/// (ClientSoftwareName/Version arrive with the flexible v3).
public struct ApiVersionsRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .apiVersions }

    public init() {}

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> ApiVersionsRequest {
        try apiKey.requireDataPathVersion(version)
        return ApiVersionsRequest()
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {}
}

/// ApiVersions response: errorCode, apiKeys[apiKey, minVersion, maxVersion], then
/// throttleTimeMs (v1+) at the end.
public struct ApiVersionsResponse: KafkaResponseBody, Hashable {
    public struct ApiVersion: Sendable, Hashable {
        public var apiKey: Int16
        public var minVersion: Int16
        public var maxVersion: Int16

        public init(apiKey: Int16, minVersion: Int16, maxVersion: Int16) {
            self.apiKey = apiKey
            self.minVersion = minVersion
            self.maxVersion = maxVersion
        }

        static func decode(from buffer: inout ByteBuffer) throws(KafkaCodecError) -> ApiVersion {
            ApiVersion(apiKey: try buffer.readKafkaInteger("api_key"),
                       minVersion: try buffer.readKafkaInteger("min_version"),
                       maxVersion: try buffer.readKafkaInteger("max_version"))
        }

        func encode(into buffer: inout ByteBuffer) {
            buffer.writeKafkaInteger(apiKey)
            buffer.writeKafkaInteger(minVersion)
            buffer.writeKafkaInteger(maxVersion)
        }
    }

    public var errorCode: Int16
    public var apiKeys: [ApiVersion]
    /// v1+.
    public var throttleTimeMs: Int32

    public init(errorCode: Int16, apiKeys: [ApiVersion], throttleTimeMs: Int32 = 0) {
        self.errorCode = errorCode
        self.apiKeys = apiKeys
        self.throttleTimeMs = throttleTimeMs
    }

    /// Every API paynode speaks with the versions it advertises, in key order.
    public static var paynodeApiKeys: [ApiVersion] {
        KafkaAPIKey.allCases.sorted { $0.rawValue < $1.rawValue }.map {
            ApiVersion(apiKey: $0.rawValue, minVersion: $0.supportedVersions.lowerBound,
                       maxVersion: $0.supportedVersions.upperBound)
        }
    }

    /// paynode's answer: the full key list with `errorCode`.
    public static func paynode(errorCode: Int16 = KafkaErrorCode.none.rawValue, throttleTimeMs: Int32 = 0) -> ApiVersionsResponse {
        ApiVersionsResponse(errorCode: errorCode, apiKeys: paynodeApiKeys, throttleTimeMs: throttleTimeMs)
    }

    /// The answer to an ApiVersions request in a version paynode does not speak (e.g. the
    /// flexible v3): always the v0 layout, whatever version was asked for, so that every
    /// client can parse it: INT16 error 35 (UNSUPPORTED_VERSION), INT32 count, the entries
    /// (including ApiVersions 0-2), and no throttle time or tagged fields. librdkafka and
    /// kafka-python then retry with the highest ApiVersions version listed. Writes the body
    /// only; the framing code writes the v0 response header (correlation id).
    public static func encodeUnsupportedVersionFallback(into buffer: inout ByteBuffer) {
        paynode(errorCode: KafkaErrorCode.unsupportedVersion.rawValue).encode(into: &buffer, version: 0)
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> ApiVersionsResponse {
        try KafkaAPIKey.apiVersions.requireDataPathVersion(version)
        let start = buffer
        do {
            return try decodeLayout(from: &buffer, version: version)
        } catch {
            // A broker that does not speak the requested version answers in the v0 layout
            // with UNSUPPORTED_VERSION; Kafka's own client re-parses such a response as v0.
            guard version > 0 else { throw error }
            var retry = start
            guard let fallback = try? decodeLayout(from: &retry, version: 0),
                  fallback.errorCode == KafkaErrorCode.unsupportedVersion.rawValue else { throw error }
            buffer = retry
            return fallback
        }
    }

    private static func decodeLayout(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> ApiVersionsResponse {
        let errorCode: Int16 = try buffer.readKafkaInteger("error_code")
        let apiKeys = try buffer.readKafkaArray("api_keys", minimumElementSize: 6) { (b: inout ByteBuffer) throws(KafkaCodecError) in
            try ApiVersion.decode(from: &b)
        }
        let throttleTimeMs: Int32 = version >= 1 ? try buffer.readKafkaInteger("throttle_time_ms") : 0
        return ApiVersionsResponse(errorCode: errorCode, apiKeys: apiKeys, throttleTimeMs: throttleTimeMs)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaInteger(errorCode)
        buffer.writeKafkaArray(apiKeys) { b, key in key.encode(into: &b) }
        if version >= 1 { buffer.writeKafkaInteger(throttleTimeMs) }
    }
}
