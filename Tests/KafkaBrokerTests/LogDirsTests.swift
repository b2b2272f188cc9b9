import KafkaBroker
import KafkaClient
import LogStore
import PaynodeTestSupport
import Protocol
import Testing

/// OffsetForLeaderEpoch and DescribeLogDirs against the in-process broker.
struct LogDirsTests {
    static func prepare(_ store: LogStore) async throws {
        try await TopicAdminBrokerTests.prepare(store)
    }

    @Test func epochZeroEndsAtTheHighWatermarkAndLaterEpochsAreUnknown() async throws {
        try await InProcessBroker.run(TopicAdminBrokerTests.settings(), prepare: Self.prepare) { broker in
            let connection = try await broker.connect()
            let response = try await connection.request(OffsetForLeaderEpochRequest(topics: [
                .init(topic: "orders", partitions: [
                    .init(partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0),
                    .init(partition: 1, leaderEpoch: 0),
                    .init(partition: 0, leaderEpoch: 4),
                    .init(partition: 0, currentLeaderEpoch: 3, leaderEpoch: 0),
                    .init(partition: 9, leaderEpoch: 0),
                ]),
                .init(topic: "missing", partitions: [.init(partition: 0, leaderEpoch: 0)]),
                .init(topic: "ledger", partitions: [.init(partition: 0, leaderEpoch: 0)]),
            ]))
            let orders = response.topics[0].partitions
            #expect(orders.map(\.errorCode) == [0, 0, 0, KafkaErrorCode.unknownLeaderEpoch.rawValue, KafkaErrorCode.unknownTopicOrPartition.rawValue])
            #expect(orders.map(\.endOffset) == [6, 0, -1, -1, -1])
            #expect(orders.map(\.leaderEpoch) == [0, 0, -1, -1, -1])
            #expect(response.topics[1].partitions.map(\.errorCode) == [KafkaErrorCode.unknownTopicOrPartition.rawValue])
            // `ledger` carries an ACL naming only alice, so anonymous may not describe it.
            #expect(response.topics[2].partitions.map(\.errorCode) == [KafkaErrorCode.topicAuthorizationFailed.rawValue])
            await connection.close()
        }
    }

    @Test func theDataDirectoryIsTheOneLogDirWithEachPartitionsSize() async throws {
        try await InProcessBroker.run(TopicAdminBrokerTests.settings(), prepare: Self.prepare) { broker in
            let connection = try await broker.connect()
            let all = try await connection.request(DescribeLogDirsRequest(topics: nil))
            #expect(all.errorCode == 0 && all.results.count == 1)
            let directory = try #require(all.results.first)
            #expect(directory.logDir == broker.store.configuration.dataDirectory)
            #expect(directory.totalBytes > 0 && directory.usableBytes > 0 && directory.usableBytes <= directory.totalBytes)
            #expect(Set(directory.topics.map(\.name)) == ["orders", "audit", "ledger"])
            let orders = try #require(directory.topics.first { $0.name == "orders" })
            let stored = try #require(try broker.store.describe(topic: "orders"))
            #expect(orders.partitions.map(\.partitionSize) == stored.partitions.map(\.sizeBytes))
            #expect(orders.partitions[0].partitionSize > 0)

            let named = try await connection.request(DescribeLogDirsRequest(topics: [
                .init(topic: "orders", partitions: [1, 7]), .init(topic: "missing", partitions: [0]), .init(topic: "orders", partitions: [0]),
            ]))
            #expect(named.results.first?.topics.map(\.name) == ["orders"])
            #expect(named.results.first?.topics.first?.partitions.map(\.partitionIndex) == [0, 1])
            await connection.close()
        }
    }
}
