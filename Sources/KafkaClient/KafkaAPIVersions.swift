import Protocol

/// The version of each API used on one connection: the highest version that both this client
/// (whose codecs speak `KafkaAPIKey.supportedVersions`) and the broker (its ApiVersions answer)
/// support. APIs without overlap are absent, and using them fails with `.unsupportedVersion`.
public struct KafkaAPIVersions: Sendable, Hashable {
    public private(set) var versions: [KafkaAPIKey: Int16]

    public init(versions: [KafkaAPIKey: Int16]) {
        self.versions = versions
    }

    /// Negotiates from the broker's advertised ranges and the client's own ranges (by default
    /// everything the Protocol codecs speak). Unknown API keys in the broker's list are ignored.
    public init(broker: [ApiVersionsResponse.ApiVersion],
                client: [KafkaAPIKey: ClosedRange<Int16>] = KafkaAPIVersions.clientRanges) {
        var versions: [KafkaAPIKey: Int16] = [:]
        for entry in broker {
            guard let api = KafkaAPIKey(rawValue: entry.apiKey), let ours = client[api],
                  entry.minVersion <= entry.maxVersion else { continue }
            let lower = max(ours.lowerBound, entry.minVersion)
            let upper = min(ours.upperBound, entry.maxVersion)
            if lower <= upper { versions[api] = upper }
        }
        self.versions = versions
    }

    /// The ranges the client's codecs can encode and decode.
    public static let clientRanges: [KafkaAPIKey: ClosedRange<Int16>] = Dictionary(
        uniqueKeysWithValues: KafkaAPIKey.allCases.map { ($0, $0.supportedVersions) })

    public func version(for api: KafkaAPIKey) -> Int16? { versions[api] }

    /// The negotiated version, or `.unsupportedVersion` naming the broker.
    public func require(_ api: KafkaAPIKey, broker: String) throws(KafkaClientError) -> Int16 {
        guard let version = versions[api] else {
            throw KafkaClientError(.unsupportedVersion,
                                   "the broker supports no version of \(api) in \(api.supportedVersions)", broker: broker)
        }
        return version
    }

    /// Which ApiVersions version to retry with after an UNSUPPORTED_VERSION answer (which lists
    /// the broker's ApiVersions range in the v0 layout), or nil when there is none to try.
    public static func apiVersionsRetryVersion(after response: ApiVersionsResponse, tried: Int16) -> Int16? {
        guard response.errorCode == KafkaErrorCode.unsupportedVersion.rawValue else { return nil }
        let theirs = response.apiKeys.first { $0.apiKey == KafkaAPIKey.apiVersions.rawValue }
        let candidate = min(theirs?.maxVersion ?? 0, KafkaAPIKey.apiVersions.supportedVersions.upperBound)
        guard candidate < tried, candidate >= KafkaAPIKey.apiVersions.supportedVersions.lowerBound else { return nil }
        return candidate
    }
}
