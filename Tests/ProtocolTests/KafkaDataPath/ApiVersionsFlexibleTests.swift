import NIOCore
import Protocol
import Testing

/// ApiVersions v3-4 (flexible; the response header stays v0) against kafka-python 3.0.12:
///   ApiVersionsRequest[v](client_software_name="kafka-python", client_software_version="3.0.12")
///   ApiVersionsResponse[v](error_code=0, api_keys=[(0, 3, 8), (18, 0, 4)], throttle_time_ms=0)
@Suite struct ApiVersionsFlexibleTests {
    @Test(arguments: [Int16(3), 4])
    func flexibleVersionsMatchKafka(version: Int16) throws {
        try roundTrip(ApiVersionsRequest(clientSoftwareName: "kafka-python", clientSoftwareVersion: "3.0.12"),
                      "0d6b61666b612d707974686f6e07332e302e313200", version: version,
                      encode: { $0.encode(into: &$1, version: version) },
                      decode: { try ApiVersionsRequest.decode(from: &$0, version: version) })
        try roundTrip(ApiVersionsResponse(errorCode: 0, apiKeys: [.init(apiKey: 0, minVersion: 3, maxVersion: 8),
                                                                  .init(apiKey: 18, minVersion: 0, maxVersion: 4)]),
                      "00000300000003000800001200000004000000000000", version: version,
                      encode: { $0.encode(into: &$1, version: version) },
                      decode: { try ApiVersionsResponse.decode(from: &$0, version: version) })
    }

    /// Kafka's pattern for the client software name and version.
    @Test func clientSoftwareNamesFollowKafkasPattern() {
        func valid(_ name: String?, _ version: String?) -> Bool {
            ApiVersionsRequest(clientSoftwareName: name, clientSoftwareVersion: version).hasValidClientSoftware
        }
        #expect(valid("librdkafka", "2.16.1") && valid("apache-kafka-java", "4.1.0") && valid(nil, nil))
        #expect(!valid("", "1") && !valid("-lead", "1") && !valid("name", "1.") && !valid("white space", "1") && !valid("ünï", "1"))
    }

    /// A feature tag in a v3 response (a real broker's SupportedFeatures) is skipped.
    @Test func responseFeatureTagsAreSkipped() throws {
        var tagged = buffer(hex: "0000 02 0012 0000 0004 00 00000000 01 01 03 abcdef")
        let response = try ApiVersionsResponse.decode(from: &tagged, version: 3)
        #expect(response.apiKeys == [.init(apiKey: 18, minVersion: 0, maxVersion: 4)] && tagged.readableBytes == 0)
    }
}
