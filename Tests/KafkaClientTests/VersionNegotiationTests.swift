@testable import KafkaClient
import Protocol
import Testing

@Suite struct VersionNegotiationTests {
    typealias Entry = ApiVersionsResponse.ApiVersion

    @Test func picksTheHighestCommonVersion() {
        let versions = KafkaAPIVersions(broker: [
            Entry(apiKey: KafkaAPIKey.produce.rawValue, minVersion: 0, maxVersion: 11),  // newer broker: capped at ours (8)
            Entry(apiKey: KafkaAPIKey.fetch.rawValue, minVersion: 4, maxVersion: 6),     // older broker: its max
            Entry(apiKey: KafkaAPIKey.metadata.rawValue, minVersion: 0, maxVersion: 8),
        ])
        #expect(versions.version(for: .produce) == 8)
        #expect(versions.version(for: .fetch) == 6)
        #expect(versions.version(for: .metadata) == 8)
        #expect(versions.version(for: .listOffsets) == nil)
    }

    @Test func noOverlapMeansUnsupported() throws {
        // A broker that only speaks flexible Fetch 12+ and Produce 0-2 shares nothing with us.
        let versions = KafkaAPIVersions(broker: [
            Entry(apiKey: KafkaAPIKey.fetch.rawValue, minVersion: 12, maxVersion: 16),
            Entry(apiKey: KafkaAPIKey.produce.rawValue, minVersion: 0, maxVersion: 2),
            Entry(apiKey: 999, minVersion: 0, maxVersion: 3),
        ])
        #expect(versions.version(for: .fetch) == nil)
        #expect(versions.version(for: .produce) == nil)
        let error = #expect(throws: KafkaClientError.self) { try versions.require(.fetch, broker: "b:1") }
        #expect(error?.code == .unsupportedVersion)
        #expect(error?.broker == "b:1")
    }

    @Test func paynodeAgainstItselfUsesItsMaxima() {
        let versions = KafkaAPIVersions(broker: ApiVersionsResponse.paynodeApiKeys)
        for api in KafkaAPIKey.allCases {
            #expect(versions.version(for: api) == api.supportedVersions.upperBound)
        }
    }

    @Test func clientRangesLimitTheChoice() {
        let versions = KafkaAPIVersions(broker: [Entry(apiKey: KafkaAPIKey.fetch.rawValue, minVersion: 0, maxVersion: 11)],
                                        client: [.fetch: 4...7])
        #expect(versions.version(for: .fetch) == 7)
    }

    @Test func apiVersionsFallbackRetriesWithTheBrokersMaximum() {
        let fallback = ApiVersionsResponse(errorCode: KafkaErrorCode.unsupportedVersion.rawValue,
                                           apiKeys: [Entry(apiKey: KafkaAPIKey.apiVersions.rawValue, minVersion: 0, maxVersion: 1)])
        #expect(KafkaAPIVersions.apiVersionsRetryVersion(after: fallback, tried: 2) == 1)
        // Nothing lower to try, or no error at all: no retry.
        #expect(KafkaAPIVersions.apiVersionsRetryVersion(after: fallback, tried: 1) == nil)
        #expect(KafkaAPIVersions.apiVersionsRetryVersion(after: ApiVersionsResponse.paynode(), tried: 2) == nil)
    }
}
