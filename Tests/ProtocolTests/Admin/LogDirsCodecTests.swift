import NIOCore
import Protocol
import Testing

/// OffsetForLeaderEpoch (v2-4) and DescribeLogDirs (v1-5) against kafka-python 3.0.12's
/// encoding of Kafka's message JSONs, byte for byte. Generated with:
///   OffsetForLeaderEpochRequest[v](replica_id=-1, topics=[("orders", [(0, 0, 0), (2, -1, 3)])])
///   OffsetForLeaderEpochResponse[v](throttle_time_ms=0, topics=[("orders", [(0, 0, 0, 42), (75, 2, -1, -1)])])
///   DescribeLogDirsRequest[v](topics=[("orders", [0, 1])]) and (topics=None)
///   DescribeLogDirsResponse[v](throttle_time_ms=0, error_code=0, results=[(0, "/var/lib/paynode",
///        [("orders", [(0, 1234, 0, False)])], total_bytes=1000000, usable_bytes=500000, is_cordoned=False)])
@Suite struct LogDirsCodecTests {
    static let epochRequests: [(Int16, String)] = [
        (2, "0000000100066f72646572730000000200000000000000000000000000000002ffffffff00000003"),
        (3, "ffffffff0000000100066f72646572730000000200000000000000000000000000000002ffffffff00000003"),
        (4, "ffffffff02076f7264657273030000000000000000000000000000000002ffffffff00000003000000"),
    ]
    static let epochResponses: [(Int16, String)] = [
        (2, "000000000000000100066f72646572730000000200000000000000000000000000000000002a004b00000002ffffffffffffffffffffffff"),
        (3, "000000000000000100066f72646572730000000200000000000000000000000000000000002a004b00000002ffffffffffffffffffffffff"),
        (4, "0000000002076f72646572730300000000000000000000000000000000002a00004b00000002ffffffffffffffffffffffff000000"),
    ]

    @Test(arguments: epochRequests)
    func offsetForLeaderEpochRequestMatchesKafka(_ version: Int16, _ expected: String) throws {
        let request = OffsetForLeaderEpochRequest(replicaId: version >= 3 ? -1 : -2, topics: [
            .init(topic: "orders", partitions: [.init(partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0),
                                                .init(partition: 2, currentLeaderEpoch: -1, leaderEpoch: 3)]),
        ])
        try roundTrip(request, expected, version: version, encode: { $0.encode(into: &$1, version: version) },
                      decode: { try OffsetForLeaderEpochRequest.decode(from: &$0, version: version) })
    }

    @Test(arguments: epochResponses)
    func offsetForLeaderEpochResponseMatchesKafka(_ version: Int16, _ expected: String) throws {
        let response = OffsetForLeaderEpochResponse(topics: [
            .init(topic: "orders", partitions: [.init(partition: 0, leaderEpoch: 0, endOffset: 42),
                                                .init(errorCode: 75, partition: 2)]),
        ])
        try roundTrip(response, expected, version: version, encode: { $0.encode(into: &$1, version: version) },
                      decode: { try OffsetForLeaderEpochResponse.decode(from: &$0, version: version) })
    }

    static let logDirsRequests: [(Int16, String, String)] = [
        (1, "0000000100066f7264657273000000020000000000000001", "ffffffff"),
        (2, "02076f72646572730300000000000000010000", "0000"),
        (5, "02076f72646572730300000000000000010000", "0000"),
    ]
    static let logDirsResponses: [(Int16, String)] = [
        (1, "0000000000000001000000102f7661722f6c69622f7061796e6f64650000000100066f7264657273000000010000000000000000000004d2000000000000000000"),
        (2, "00000000020000112f7661722f6c69622f7061796e6f646502076f7264657273020000000000000000000004d200000000000000000000000000"),
        (3, "000000000000020000112f7661722f6c69622f7061796e6f646502076f7264657273020000000000000000000004d200000000000000000000000000"),
        (4, "000000000000020000112f7661722f6c69622f7061796e6f646502076f7264657273020000000000000000000004d2000000000000000000000000000000000f4240000000000007a1200000"),
        (5, "000000000000020000112f7661722f6c69622f7061796e6f646502076f7264657273020000000000000000000004d2000000000000000000000000000000000f4240000000000007a120000000"),
    ]

    @Test(arguments: logDirsRequests)
    func describeLogDirsRequestMatchesKafka(_ version: Int16, _ named: String, _ all: String) throws {
        try roundTrip(DescribeLogDirsRequest(topics: [.init(topic: "orders", partitions: [0, 1])]), named, version: version,
                      encode: { $0.encode(into: &$1, version: version) },
                      decode: { try DescribeLogDirsRequest.decode(from: &$0, version: version) })
        try roundTrip(DescribeLogDirsRequest(topics: nil), all, version: version, encode: { $0.encode(into: &$1, version: version) },
                      decode: { try DescribeLogDirsRequest.decode(from: &$0, version: version) })
    }

    @Test(arguments: logDirsResponses)
    func describeLogDirsResponseMatchesKafka(_ version: Int16, _ expected: String) throws {
        let response = DescribeLogDirsResponse(results: [
            .init(logDir: "/var/lib/paynode", topics: [.init(name: "orders", partitions: [.init(partitionIndex: 0, partitionSize: 1234)])],
                  totalBytes: version >= 4 ? 1_000_000 : -1, usableBytes: version >= 4 ? 500_000 : -1),
        ])
        try roundTrip(response, expected, version: version, encode: { $0.encode(into: &$1, version: version) },
                      decode: { try DescribeLogDirsResponse.decode(from: &$0, version: version) })
    }
}
