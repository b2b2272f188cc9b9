import NIOCore
import Protocol
import Testing

/// DeleteGroups (v0-2), OffsetDelete (v0) and AlterConfigs (v0-2) against kafka-python 3.0.12's
/// encoding of Kafka's message JSONs, byte for byte. Generated with:
///   DeleteGroupsRequest[v](groups_names=["orders-app", "g2"]).encode(version=v).hex()
///   DeleteGroupsResponse[v](throttle_time_ms=0, results=[DeletableGroupResult("orders-app", 0), ("g2", 68)])
///   OffsetDeleteRequest[0](group_id="orders-app", topics=[Topic("orders", partitions=[0, 2])])
///   OffsetDeleteResponse[0](error_code=0, throttle_time_ms=0, topics=[Topic("orders", [(0, 0), (2, 86)])])
///   AlterConfigsRequest[v](resources=[AlterConfigsResource(2, "orders", configs=[("retention.ms", "60000"),
///        ("retention.bytes", None)])], validate_only=True)
///   AlterConfigsResponse[v](throttle_time_ms=0, responses=[(0, None, 2, "orders"), (40, "bad", 4, "0")])
@Suite struct GroupAdminCodecTests {
    static let deleteGroupsRequests: [(Int16, String)] = [
        (0, "00000002000a6f72646572732d61707000026732"),
        (1, "00000002000a6f72646572732d61707000026732"),
        (2, "030b6f72646572732d61707003673200"),
    ]
    static let deleteGroupsResponses: [(Int16, String)] = [
        (0, "0000000000000002000a6f72646572732d6170700000000267320044"),
        (1, "0000000000000002000a6f72646572732d6170700000000267320044"),
        (2, "00000000030b6f72646572732d61707000000003673200440000"),
    ]

    @Test(arguments: deleteGroupsRequests)
    func deleteGroupsRequestMatchesKafka(_ version: Int16, _ expected: String) throws {
        try roundTrip(DeleteGroupsRequest(groupsNames: ["orders-app", "g2"]), expected, version: version,
                      encode: { $0.encode(into: &$1, version: version) },
                      decode: { try DeleteGroupsRequest.decode(from: &$0, version: version) })
    }

    @Test(arguments: deleteGroupsResponses)
    func deleteGroupsResponseMatchesKafka(_ version: Int16, _ expected: String) throws {
        try roundTrip(DeleteGroupsResponse(results: [.init(groupId: "orders-app"), .init(groupId: "g2", errorCode: 68)]), expected,
                      version: version, encode: { $0.encode(into: &$1, version: version) },
                      decode: { try DeleteGroupsResponse.decode(from: &$0, version: version) })
    }

    @Test func offsetDeleteMatchesKafka() throws {
        try roundTrip(OffsetDeleteRequest(groupId: "orders-app", topics: [.init(name: "orders", partitions: [0, 2])]),
                      "000a6f72646572732d6170700000000100066f7264657273000000020000000000000002", version: 0,
                      encode: { $0.encode(into: &$1, version: 0) }, decode: { try OffsetDeleteRequest.decode(from: &$0, version: 0) })
        try roundTrip(OffsetDeleteResponse(topics: [.init(name: "orders", partitions: [.init(partitionIndex: 0),
                                                                                      .init(partitionIndex: 2, errorCode: 86)])]),
                      "0000000000000000000100066f726465727300000002000000000000000000020056", version: 0,
                      encode: { $0.encode(into: &$1, version: 0) }, decode: { try OffsetDeleteResponse.decode(from: &$0, version: 0) })
    }

    static let alterConfigsRequests: [(Int16, String)] = [
        (0, "000000010200066f726465727300000002000c726574656e74696f6e2e6d7300053630303030000f726574656e74696f6e2e6279746573ffff01"),
        (1, "000000010200066f726465727300000002000c726574656e74696f6e2e6d7300053630303030000f726574656e74696f6e2e6279746573ffff01"),
        (2, "0202076f7264657273030d726574656e74696f6e2e6d730636303030300010726574656e74696f6e2e62797465730000000100"),
    ]
    static let alterConfigsResponses: [(Int16, String)] = [
        (0, "00000000000000020000ffff0200066f72646572730028000362616404000130"),
        (1, "00000000000000020000ffff0200066f72646572730028000362616404000130"),
        (2, "000000000300000002076f7264657273000028046261640402300000"),
    ]

    @Test(arguments: alterConfigsRequests)
    func alterConfigsRequestMatchesKafka(_ version: Int16, _ expected: String) throws {
        let request = AlterConfigsRequest(resources: [
            .init(resourceType: 2, resourceName: "orders", configs: [.init(name: "retention.ms", value: "60000"),
                                                                      .init(name: "retention.bytes", value: nil)]),
        ], validateOnly: true)
        try roundTrip(request, expected, version: version, encode: { $0.encode(into: &$1, version: version) },
                      decode: { try AlterConfigsRequest.decode(from: &$0, version: version) })
    }

    @Test(arguments: alterConfigsResponses)
    func alterConfigsResponseMatchesKafka(_ version: Int16, _ expected: String) throws {
        let response = AlterConfigsResponse(responses: [
            .init(resourceType: 2, resourceName: "orders"), .init(errorCode: 40, errorMessage: "bad", resourceType: 4, resourceName: "0"),
        ])
        try roundTrip(response, expected, version: version, encode: { $0.encode(into: &$1, version: version) },
                      decode: { try AlterConfigsResponse.decode(from: &$0, version: version) })
    }

    /// Counts beyond the frame are refused before anything is reserved; versions outside the
    /// advertised ranges are refused; an unknown tagged field in a flexible version is skipped.
    @Test func hostileRequestsAreRefused() throws {
        var forged = buffer(hex: "7fffffff")
        #expect(throws: KafkaCodecError.self) { try DeleteGroupsRequest.decode(from: &forged, version: 0) }
        var forgedCompact = buffer(hex: "ffffffff0f")
        #expect(throws: KafkaCodecError.self) { try DeleteGroupsRequest.decode(from: &forgedCompact, version: 2) }
        var forgedPartitions = buffer(hex: "0001670000000100016f7fffffff")
        #expect(throws: KafkaCodecError.self) { try OffsetDeleteRequest.decode(from: &forgedPartitions, version: 0) }
        var negativeCount = buffer(hex: "000167fffffffe")
        #expect(throws: KafkaCodecError.self) { try OffsetDeleteRequest.decode(from: &negativeCount, version: 0) }
        var v1 = buffer(hex: Self.deleteGroupsRequests[0].1)
        #expect(throws: KafkaCodecError.self) { try OffsetDeleteRequest.decode(from: &v1, version: 1) }
        var v3 = buffer(hex: Self.alterConfigsRequests[2].1)
        #expect(throws: KafkaCodecError.self) { try AlterConfigsRequest.decode(from: &v3, version: 3) }
        let v2 = Self.deleteGroupsRequests[2].1
        var tagged = buffer(hex: String(v2.dropLast(2)) + "01" + "07" + "01" + "ff")
        #expect(try DeleteGroupsRequest.decode(from: &tagged, version: 2) == DeleteGroupsRequest(groupsNames: ["orders-app", "g2"]))
    }
}
