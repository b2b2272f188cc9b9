import NIOCore
import Protocol
import Testing

/// DeleteTopics (v0-6), CreatePartitions (v0-3) and DeleteRecords (v0-2) against kafka-python
/// 3.0.12's encoding of Kafka's message JSONs, byte for byte. Generated with:
///   DeleteTopicsRequest[v](topic_names=["orders", "t2"], timeout_ms=30000)             (v0-5)
///   DeleteTopicsRequest[6](topics=[("orders", UUID(int=0)), (None, UUID(int=1 << 64 | 2))], timeout_ms=30000)
///   DeleteTopicsResponse[v](throttle_time_ms=0, responses=[("orders", 0), ("t2", 44)])  (v5: messages None, "no";
///        v6: ("orders", zero id, 0, None), (None, id, 100, "unknown"))
///   CreatePartitionsRequest[v](topics=[("orders", 3, None), ("t2", 2, [[0]])], timeout_ms=30000, validate_only=True)
///   CreatePartitionsResponse[v](throttle_time_ms=0, results=[("orders", 0, None), ("t2", 37, "no")])
///   DeleteRecordsRequest[v](topics=[("orders", [(0, 5), (2, -1)])], timeout_ms=30000)
///   DeleteRecordsResponse[v](throttle_time_ms=0, topics=[("orders", [(0, 5, 0), (2, -1, 1)])])
@Suite struct TopicAdminCodecTests {
    static let someId = KafkaUUID(mostSignificantBits: 1, leastSignificantBits: 2)

    static let deleteTopicsRequests: [(Int16, String)] = [
        (0, "0000000200066f72646572730002743200007530"),
        (1, "0000000200066f72646572730002743200007530"),
        (2, "0000000200066f72646572730002743200007530"),
        (3, "0000000200066f72646572730002743200007530"),
        (4, "03076f72646572730374320000753000"),
        (5, "03076f72646572730374320000753000"),
    ]
    static let deleteTopicsResponses: [(Int16, String)] = [
        (0, "0000000200066f7264657273000000027432002c"),
        (1, "000000000000000200066f7264657273000000027432002c"),
        (2, "000000000000000200066f7264657273000000027432002c"),
        (3, "000000000000000200066f7264657273000000027432002c"),
        (4, "0000000003076f7264657273000000037432002c0000"),
        (5, "0000000003076f726465727300000000037432002c036e6f0000"),
    ]

    @Test(arguments: deleteTopicsRequests)
    func deleteTopicsRequestMatchesKafka(_ version: Int16, _ expected: String) throws {
        try roundTrip(DeleteTopicsRequest(topicNames: ["orders", "t2"]), expected, version: version,
                      encode: { $0.encode(into: &$1, version: version) },
                      decode: { try DeleteTopicsRequest.decode(from: &$0, version: version) })
    }

    @Test(arguments: deleteTopicsResponses)
    func deleteTopicsResponseMatchesKafka(_ version: Int16, _ expected: String) throws {
        let message: String? = version >= 5 ? "no" : nil
        try roundTrip(DeleteTopicsResponse(responses: [.init(name: "orders"), .init(name: "t2", errorCode: 44, errorMessage: message)]),
                      expected, version: version, encode: { $0.encode(into: &$1, version: version) },
                      decode: { try DeleteTopicsResponse.decode(from: &$0, version: version) })
    }

    @Test func deleteTopicsV6NamesTopicsByNameOrId() throws {
        try roundTrip(DeleteTopicsRequest(topics: [.init(name: "orders"), .init(name: nil, topicId: Self.someId)]),
                      "03076f726465727300000000000000000000000000000000000000000000000000010000000000000002000000753000",
                      version: 6, encode: { $0.encode(into: &$1, version: 6) },
                      decode: { try DeleteTopicsRequest.decode(from: &$0, version: 6) })
        try roundTrip(DeleteTopicsResponse(responses: [.init(name: "orders"),
                                                       .init(name: nil, topicId: Self.someId, errorCode: 100, errorMessage: "unknown")]),
                      "0000000003076f726465727300000000000000000000000000000000000000000000000000000000010000000000000002006408756e6b6e6f776e0000",
                      version: 6, encode: { $0.encode(into: &$1, version: 6) },
                      decode: { try DeleteTopicsResponse.decode(from: &$0, version: 6) })
    }

    static let createPartitionsRequests: [(Int16, String)] = [
        (0, "0000000200066f726465727300000003ffffffff00027432000000020000000100000001000000000000753001"),
        (1, "0000000200066f726465727300000003ffffffff00027432000000020000000100000001000000000000753001"),
        (2, "03076f7264657273000000030000037432000000020202000000000000000075300100"),
        (3, "03076f7264657273000000030000037432000000020202000000000000000075300100"),
    ]
    static let createPartitionsResponses: [(Int16, String)] = [
        (0, "000000000000000200066f72646572730000ffff00027432002500026e6f"),
        (1, "000000000000000200066f72646572730000ffff00027432002500026e6f"),
        (2, "0000000003076f7264657273000000000374320025036e6f0000"),
        (3, "0000000003076f7264657273000000000374320025036e6f0000"),
    ]

    @Test(arguments: createPartitionsRequests)
    func createPartitionsRequestMatchesKafka(_ version: Int16, _ expected: String) throws {
        let request = CreatePartitionsRequest(topics: [.init(name: "orders", count: 3), .init(name: "t2", count: 2, assignments: [[0]])],
                                              validateOnly: true)
        try roundTrip(request, expected, version: version, encode: { $0.encode(into: &$1, version: version) },
                      decode: { try CreatePartitionsRequest.decode(from: &$0, version: version) })
    }

    @Test(arguments: createPartitionsResponses)
    func createPartitionsResponseMatchesKafka(_ version: Int16, _ expected: String) throws {
        try roundTrip(CreatePartitionsResponse(results: [.init(name: "orders"), .init(name: "t2", errorCode: 37, errorMessage: "no")]),
                      expected, version: version, encode: { $0.encode(into: &$1, version: version) },
                      decode: { try CreatePartitionsResponse.decode(from: &$0, version: version) })
    }

    static let deleteRecordsRequests: [(Int16, String)] = [
        (0, "0000000100066f72646572730000000200000000000000000000000500000002ffffffffffffffff00007530"),
        (1, "0000000100066f72646572730000000200000000000000000000000500000002ffffffffffffffff00007530"),
        (2, "02076f7264657273030000000000000000000000050000000002ffffffffffffffff00000000753000"),
    ]
    static let deleteRecordsResponses: [(Int16, String)] = [
        (0, "000000000000000100066f726465727300000002000000000000000000000005000000000002ffffffffffffffff0001"),
        (1, "000000000000000100066f726465727300000002000000000000000000000005000000000002ffffffffffffffff0001"),
        (2, "0000000002076f72646572730300000000000000000000000500000000000002ffffffffffffffff0001000000"),
    ]

    @Test(arguments: deleteRecordsRequests)
    func deleteRecordsRequestMatchesKafka(_ version: Int16, _ expected: String) throws {
        let request = DeleteRecordsRequest(topics: [.init(name: "orders", partitions: [.init(partitionIndex: 0, offset: 5),
                                                                                     .init(partitionIndex: 2, offset: -1)])])
        try roundTrip(request, expected, version: version, encode: { $0.encode(into: &$1, version: version) },
                      decode: { try DeleteRecordsRequest.decode(from: &$0, version: version) })
    }

    @Test(arguments: deleteRecordsResponses)
    func deleteRecordsResponseMatchesKafka(_ version: Int16, _ expected: String) throws {
        let response = DeleteRecordsResponse(topics: [.init(name: "orders", partitions: [.init(partitionIndex: 0, lowWatermark: 5),
                                                                                        .init(partitionIndex: 2, lowWatermark: -1, errorCode: 1)])])
        try roundTrip(response, expected, version: version, encode: { $0.encode(into: &$1, version: version) },
                      decode: { try DeleteRecordsResponse.decode(from: &$0, version: version) })
    }

    /// Counts that promise more elements than the frame holds are refused before anything is
    /// allocated; an unknown tagged field is skipped.
    @Test func forgedCountsAreRefusedAndTaggedFieldsSkipped() throws {
        var forged = buffer(hex: "7fffffff00007530")
        #expect(throws: KafkaCodecError.self) { try DeleteTopicsRequest.decode(from: &forged, version: 1) }
        var forgedPartitions = buffer(hex: "0000000100066f72646572737fffffff00007530")
        #expect(throws: KafkaCodecError.self) { try DeleteRecordsRequest.decode(from: &forgedPartitions, version: 0) }
        var forgedAssignments = buffer(hex: "03076f72646572730000000320")
        #expect(throws: KafkaCodecError.self) { try CreatePartitionsRequest.decode(from: &forgedAssignments, version: 2) }
        // v4 with one unknown tag (tag 5, 2 bytes) after timeout_ms.
        var tagged = buffer(hex: "02076f726465727300007530 01 05 02 abcd")
        #expect(try DeleteTopicsRequest.decode(from: &tagged, version: 4) == DeleteTopicsRequest(topicNames: ["orders"]))
        #expect(tagged.readableBytes == 0)
    }
}
