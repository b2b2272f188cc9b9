import NIOCore
import Protocol
import Testing

/// DescribeConfigs request and response bodies against kafka-python 3.0.12's encoding of Kafka's
/// DescribeConfigsRequest.json / DescribeConfigsResponse.json, byte for byte (v1, v3, and v4,
/// the flexible one). Generated with:
///   from kafka.protocol.admin import DescribeConfigsRequest as R, DescribeConfigsResponse as S
///   R[v](resources=[R.DescribeConfigsResource(resource_type=2, resource_name="orders",
///        configuration_keys=["retention.ms", "cleanup.policy"]), ...(4, "0", None)],
///        include_synonyms=True, include_documentation=v >= 3).encode(version=v).hex()
@Suite struct DescribeConfigsCodecTests {
    static let requests: [(Int16, String)] = [
        (1, "000000020200066f726465727300000002000c726574656e74696f6e2e6d73000e636c65616e75702e706f6c69637904000130ffffffff01"),
        (3, "000000020200066f726465727300000002000c726574656e74696f6e2e6d73000e636c65616e75702e706f6c69637904000130ffffffff0101"),
        (4, "0302076f7264657273030d726574656e74696f6e2e6d730f636c65616e75702e706f6c696379000402300000010100"),
    ]

    static let responses: [(Int16, String)] = [
        (1, "00000000000000020000ffff0200066f726465727300000001000c726574656e74696f6e2e6d730005363030303001010000000002000c726574656e74696f6e2e6d73000536303030300100106c6f672e726574656e74696f6e2e6d73ffff050003000d6e6f207375636820746f7069630200017800000000"),
        (3, "00000000000000020000ffff0200066f726465727300000001000c726574656e74696f6e2e6d730005363030303001010000000002000c726574656e74696f6e2e6d73000536303030300100106c6f672e726574656e74696f6e2e6d73ffff05050003646f630003000d6e6f207375636820746f7069630200017800000000"),
        (4, "000000000300000002076f7264657273020d726574656e74696f6e2e6d73063630303030010100030d726574656e74696f6e2e6d730636303030300100116c6f672e726574656e74696f6e2e6d730005000504646f63000000030e6e6f207375636820746f706963020278010000"),
    ]

    func request(_ version: Int16) -> DescribeConfigsRequest {
        DescribeConfigsRequest(resources: [
            .init(resourceType: 2, resourceName: "orders", configurationKeys: ["retention.ms", "cleanup.policy"]),
            .init(resourceType: 4, resourceName: "0", configurationKeys: nil),
        ], includeSynonyms: true, includeDocumentation: version >= 3)
    }

    func response(_ version: Int16) -> DescribeConfigsResponse {
        let entry = DescribeConfigsResponse.Entry(
            name: "retention.ms", value: "60000", readOnly: true, configSource: 1, isSensitive: false,
            synonyms: [.init(name: "retention.ms", value: "60000", source: 1), .init(name: "log.retention.ms", value: nil, source: 5)],
            configType: version >= 3 ? 5 : 0, documentation: version >= 3 ? "doc" : nil)
        return DescribeConfigsResponse(results: [
            .init(resourceType: 2, resourceName: "orders", configs: [entry]),
            .init(errorCode: 3, errorMessage: "no such topic", resourceType: 2, resourceName: "x"),
        ])
    }

    @Test(arguments: requests)
    func requestMatchesKafka(_ version: Int16, _ expected: String) throws {
        #expect(hex { request(version).encode(into: &$0, version: version) } == expected)
        var bytes = buffer(hex: expected)
        #expect(try DescribeConfigsRequest.decode(from: &bytes, version: version) == request(version))
        #expect(bytes.readableBytes == 0)
    }

    @Test(arguments: responses)
    func responseMatchesKafka(_ version: Int16, _ expected: String) throws {
        #expect(hex { response(version).encode(into: &$0, version: version) } == expected)
        var bytes = buffer(hex: expected)
        #expect(try DescribeConfigsResponse.decode(from: &bytes, version: version) == response(version))
        #expect(bytes.readableBytes == 0)
    }

    /// Hostile input: counts beyond the frame and truncations are errors, not traps or
    /// reservations; an unknown tagged field in v4 is skipped.
    @Test func hostileRequestsAreRefused() throws {
        var forged = buffer(hex: "7fffffff")
        #expect(throws: KafkaCodecError.self) { try DescribeConfigsRequest.decode(from: &forged, version: 1) }
        let v4 = Self.requests[2].1
        for cut in stride(from: 0, to: v4.count - 2, by: 2) {
            var truncated = buffer(hex: String(v4.prefix(cut)))
            #expect(throws: KafkaCodecError.self) { try DescribeConfigsRequest.decode(from: &truncated, version: 4) }
        }
        var compactForged = buffer(hex: "ffffffff0f")
        #expect(throws: KafkaCodecError.self) { try DescribeConfigsRequest.decode(from: &compactForged, version: 4) }
        // The top-level tagged fields (last byte 00) carrying one unknown tag 5 of 2 bytes.
        var tagged = buffer(hex: String(v4.dropLast(2)) + "01" + "05" + "02" + "abcd")
        #expect(try DescribeConfigsRequest.decode(from: &tagged, version: 4) == request(4))
        var unsupported = buffer(hex: Self.requests[0].1)
        #expect(throws: KafkaCodecError.self) { try DescribeConfigsRequest.decode(from: &unsupported, version: 0) }
    }
}

/// IncrementalAlterConfigs v0 and v1 (flexible) against kafka-python 3.0.12, byte for byte:
///   R[v](resources=[R.AlterConfigsResource(resource_type=2, resource_name="orders", configs=[
///        AlterableConfig(name="retention.ms", config_operation=0, value="60000"),
///        AlterableConfig(name="retention.bytes", config_operation=1, value=None)])], validate_only=True)
@Suite struct IncrementalAlterConfigsCodecTests {
    static let requests: [(Int16, String)] = [
        (0, "000000010200066f726465727300000002000c726574656e74696f6e2e6d730000053630303030000f726574656e74696f6e2e627974657301ffff01"),
        (1, "0202076f7264657273030d726574656e74696f6e2e6d73000636303030300010726574656e74696f6e2e6279746573010000000100"),
    ]
    static let responses: [(Int16, String)] = [
        (0, "00000000000000020000ffff0200066f72646572730028000362616404000130"),
        (1, "000000000300000002076f7264657273000028046261640402300000"),
    ]

    let request = IncrementalAlterConfigsRequest(resources: [
        .init(resourceType: 2, resourceName: "orders", configs: [
            .init(name: "retention.ms", configOperation: 0, value: "60000"), .init(name: "retention.bytes", configOperation: 1, value: nil),
        ]),
    ], validateOnly: true)
    let response = IncrementalAlterConfigsResponse(responses: [
        .init(resourceType: 2, resourceName: "orders"), .init(errorCode: 40, errorMessage: "bad", resourceType: 4, resourceName: "0"),
    ])

    @Test(arguments: requests)
    func requestMatchesKafka(_ version: Int16, _ expected: String) throws {
        #expect(hex { request.encode(into: &$0, version: version) } == expected)
        var bytes = buffer(hex: expected)
        #expect(try IncrementalAlterConfigsRequest.decode(from: &bytes, version: version) == request)
        #expect(bytes.readableBytes == 0)
        for cut in stride(from: 0, to: expected.count - 2, by: 2) {
            var truncated = buffer(hex: String(expected.prefix(cut)))
            #expect(throws: KafkaCodecError.self) { try IncrementalAlterConfigsRequest.decode(from: &truncated, version: version) }
        }
    }

    @Test(arguments: responses)
    func responseMatchesKafka(_ version: Int16, _ expected: String) throws {
        #expect(hex { response.encode(into: &$0, version: version) } == expected)
        var bytes = buffer(hex: expected)
        #expect(try IncrementalAlterConfigsResponse.decode(from: &bytes, version: version) == response)
    }
}
