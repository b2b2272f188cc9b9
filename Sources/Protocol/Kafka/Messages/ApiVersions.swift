import NIOCore

/// ApiVersions (key 18), versions 0-4. The request body is empty up to v2; the flexible v3+
/// names the client software (what librdkafka and the Java client send first). Layout per
/// Apache Kafka's `ApiVersionsRequest.json` / `ApiVersionsResponse.json`.
public struct ApiVersionsRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .apiVersions }

    /// v3+.
    public var clientSoftwareName: String?
    public var clientSoftwareVersion: String?

    public init(clientSoftwareName: String? = nil, clientSoftwareVersion: String? = nil) {
        self.clientSoftwareName = clientSoftwareName
        self.clientSoftwareVersion = clientSoftwareVersion
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> ApiVersionsRequest {
        try apiKey.requireDataPathVersion(version)
        guard version >= 3 else { return ApiVersionsRequest() }
        let name = try buffer.readKafkaCompactString("client_software_name")
        let softwareVersion = try buffer.readKafkaCompactString("client_software_version")
        try buffer.skipKafkaTaggedFields("tagged fields")
        return ApiVersionsRequest(clientSoftwareName: name, clientSoftwareVersion: softwareVersion)
    }

    /// Kafka's rule for v3+ (`ApiVersionsRequest.isValid`): name and version match
    /// `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`; else the answer is INVALID_REQUEST.
    public var hasValidClientSoftware: Bool {
        func valid(_ text: String?) -> Bool {
            guard let text else { return true }
            let bytes = Array(text.utf8)
            func alphanumeric(_ byte: UInt8) -> Bool {
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            }
            guard let first = bytes.first, let last = bytes.last, alphanumeric(first), alphanumeric(last) else { return false }
            return bytes.allSatisfy { alphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
        }
        return valid(clientSoftwareName) && valid(clientSoftwareVersion)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        guard version >= 3 else { return }
        buffer.writeKafkaCompactString(clientSoftwareName ?? "")
        buffer.writeKafkaCompactString(clientSoftwareVersion ?? "")
        buffer.writeKafkaEmptyTaggedFields()
    }
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

        static func decode(from buffer: inout ByteBuffer, flexible: Bool) throws(KafkaCodecError) -> ApiVersion {
            let entry = ApiVersion(apiKey: try buffer.readKafkaInteger("api_key"),
                                   minVersion: try buffer.readKafkaInteger("min_version"),
                                   maxVersion: try buffer.readKafkaInteger("max_version"))
            try buffer.skipKafkaTaggedFields("api_keys tagged fields", flexible: flexible)
            return entry
        }

        func encode(into buffer: inout ByteBuffer, flexible: Bool) {
            buffer.writeKafkaInteger(apiKey)
            buffer.writeKafkaInteger(minVersion)
            buffer.writeKafkaInteger(maxVersion)
            buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
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
        // A broker that does not speak the requested version answers in the v0 layout with
        // UNSUPPORTED_VERSION; Kafka's own client re-parses such a response as v0. The error
        // code leads every layout, so it tells which one to read.
        if version > 0, buffer.getInteger(at: buffer.readerIndex, as: Int16.self) == KafkaErrorCode.unsupportedVersion.rawValue {
            var fallback = buffer
            if let parsed = try? decodeLayout(from: &fallback, version: 0), fallback.readableBytes == 0 {
                buffer = fallback
                return parsed
            }
        }
        return try decodeLayout(from: &buffer, version: version)
    }

    private static func decodeLayout(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> ApiVersionsResponse {
        let flexible = KafkaAPIKey.apiVersions.isFlexible(version)
        let errorCode: Int16 = try buffer.readKafkaInteger("error_code")
        let apiKeys = try buffer.readKafkaArray("api_keys", flexible: flexible, minimumElementSize: flexible ? 7 : 6) { (b: inout ByteBuffer) throws(KafkaCodecError) in
            try ApiVersion.decode(from: &b, flexible: flexible)
        }
        let throttleTimeMs: Int32 = try version >= 1 ? buffer.readKafkaInteger("throttle_time_ms") : 0
        // v3+ may carry features (tags 0-3) paynode has none of; they are skipped.
        try buffer.skipKafkaTaggedFields("tagged fields", flexible: flexible)
        return ApiVersionsResponse(errorCode: errorCode, apiKeys: apiKeys, throttleTimeMs: throttleTimeMs)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let flexible = KafkaAPIKey.apiVersions.isFlexible(version)
        buffer.writeKafkaInteger(errorCode)
        buffer.writeKafkaArray(apiKeys, flexible: flexible) { b, key in key.encode(into: &b, flexible: flexible) }
        if version >= 1 { buffer.writeKafkaInteger(throttleTimeMs) }
        buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
    }
}
