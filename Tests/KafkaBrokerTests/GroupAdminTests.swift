import Foundation
import KafkaBroker
import KafkaClient
import LogStore
import NIOCore
import PaynodeTestSupport
import Protocol
import Testing

/// DeleteGroups and OffsetDelete against the in-process broker: what goes, what stays (live
/// members, subscribed topics, the node's own group), and that it is gone from the store.
struct GroupAdminTests {
    /// `payments` (2 partitions, 5 records on each) and `refunds` (1 partition, 5 records);
    /// group `archive` (no members) has offsets on all three partitions.
    static func prepare(_ store: LogStore) async throws {
        _ = try await store.createTopic("payments", partitions: 2)
        _ = try await store.createTopic("refunds", partitions: 1)
        for (topic, partitions) in [("payments", 2), ("refunds", 1)] {
            for partition in 0..<partitions {
                for index in 0..<5 {
                    _ = try await store.append(topic: topic, partition: Int32(partition),
                                               records: [Record(timestamp: 1_700_000_000_000, key: nil, value: Array("\(index)".utf8))])
                }
            }
        }
        for (topic, partition) in [("payments", 0), ("payments", 1), ("refunds", 0)] {
            try await store.commitOffset(group: "archive", topic: topic, partition: Int32(partition), offset: 3)
            try await store.commitOffset(group: "payment-service", topic: topic, partition: Int32(partition), offset: 3)
        }
    }

    static func settings() -> KafkaBrokerSettings {
        var settings = InProcessBroker.defaultSettings()
        settings.groupLimits.protectedGroups = ["payment-service"]
        return settings
    }

    /// A member of `live` subscribed to `payments`, joined and synced.
    static func joinLive(_ connection: KafkaConnection) async throws {
        let subscription = ConsumerProtocolSubscription(version: 0, topics: ["payments"]).encoded()
        let protocols = [JoinGroupRequest.GroupProtocol(name: "range", metadata: subscription)]
        func join(_ memberId: String) async throws -> JoinGroupResponse {
            try await connection.request(JoinGroupRequest(groupId: "live", sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000,
                                                          memberId: memberId, protocolType: "consumer", protocols: protocols))
        }
        var joined = try await join("")
        if joined.errorCode == KafkaErrorCode.memberIdRequired.rawValue { joined = try await join(joined.memberId) }
        #expect(joined.errorCode == 0)
        let synced = try await connection.request(SyncGroupRequest(groupId: "live", generationId: joined.generationId, memberId: joined.memberId,
                                                                   assignments: [.init(memberId: joined.memberId, assignment: ByteBuffer())]))
        #expect(synced.errorCode == 0)
        let commit = try await connection.request(OffsetCommitRequest(
            groupId: "live", generationId: joined.generationId, memberId: joined.memberId,
            topics: [.init(name: "payments", partitions: [.init(partitionIndex: 0, committedOffset: 2, committedMetadata: nil)]),
                     .init(name: "refunds", partitions: [.init(partitionIndex: 0, committedOffset: 2, committedMetadata: nil)])]))
        #expect(commit.topics.flatMap { $0.partitions.map(\.errorCode) } == [0, 0])
    }

    @Test func emptyGroupsGoLiveAndProtectedOnesStay() async throws {
        try await InProcessBroker.run(Self.settings(), prepare: Self.prepare) { broker in
            let connection = try await broker.connect()
            try await Self.joinLive(connection)
            let response = try await connection.request(DeleteGroupsRequest(groupsNames: ["archive", "live", "payment-service", "never", "archive", ""]))
            #expect(response.results.map(\.groupId) == ["archive", "live", "payment-service", "never", ""])
            #expect(response.results.map(\.errorCode) == [0, KafkaErrorCode.nonEmptyGroup.rawValue, KafkaErrorCode.nonEmptyGroup.rawValue,
                                                          KafkaErrorCode.groupIdNotFound.rawValue, KafkaErrorCode.invalidGroupId.rawValue])
            #expect(try broker.store.read { try $0.committedOffsets(group: "archive") }.isEmpty)
            #expect(try broker.store.read { try $0.committedOffsets(group: "payment-service") }.count == 3)
            #expect(try broker.store.read { try $0.committedOffsets(group: "live") }.count == 2)
            let described = try await connection.request(DescribeGroupsRequest(groups: ["archive"]))
            #expect(described.groups.first?.groupState == "Dead")
            // Deleting again: it is gone.
            let again = try await connection.request(DeleteGroupsRequest(groupsNames: ["archive"]))
            #expect(again.results.map(\.errorCode) == [KafkaErrorCode.groupIdNotFound.rawValue])
            await connection.close()
        }
    }

    @Test func offsetsOfUnsubscribedTopicsGoAndSubscribedOnesStay() async throws {
        try await InProcessBroker.run(Self.settings(), prepare: Self.prepare) { broker in
            let connection = try await broker.connect()
            try await Self.joinLive(connection)
            let live = try await connection.request(OffsetDeleteRequest(groupId: "live", topics: [
                .init(name: "payments", partitions: [0]), .init(name: "refunds", partitions: [0, 7]), .init(name: "missing", partitions: [0]),
            ]))
            #expect(live.errorCode == 0)
            #expect(live.topics.map { $0.partitions.map(\.errorCode) } == [
                [KafkaErrorCode.groupSubscribedToTopic.rawValue], [0, KafkaErrorCode.unknownTopicOrPartition.rawValue],
                [KafkaErrorCode.unknownTopicOrPartition.rawValue],
            ])
            let remaining = try broker.store.read { try $0.committedOffsets(group: "live") }
            #expect(Set(remaining.keys) == [TopicPartition("payments", 0)])

            let archive = try await connection.request(OffsetDeleteRequest(groupId: "archive", topics: [.init(name: "payments", partitions: [1])]))
            #expect(archive.errorCode == 0 && archive.topics[0].partitions[0].errorCode == 0)
            #expect(Set(try broker.store.read { try $0.committedOffsets(group: "archive") }.keys)
                    == [TopicPartition("payments", 0), TopicPartition("refunds", 0)])

            let own = try await connection.request(OffsetDeleteRequest(groupId: "payment-service", topics: [.init(name: "payments", partitions: [0])]))
            #expect(own.errorCode == KafkaErrorCode.nonEmptyGroup.rawValue)
            let unknown = try await connection.request(OffsetDeleteRequest(groupId: "never", topics: [.init(name: "payments", partitions: [0])]))
            #expect(unknown.errorCode == KafkaErrorCode.groupIdNotFound.rawValue)
            #expect(try broker.store.read { try $0.committedOffsets(group: "payment-service") }.count == 3)
            await connection.close()
        }
    }

    @Test func aDeletedGroupStaysDeletedAcrossARestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("paynode-group-admin-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await InProcessBroker.run(Self.settings(), dataDirectory: directory, prepare: Self.prepare) { broker in
            let connection = try await broker.connect()
            // A member that joined and left leaves a persisted membership snapshot behind.
            try await Self.joinLive(connection)
            let members = try await connection.request(DescribeGroupsRequest(groups: ["live"])).groups.first?.members.map(\.memberId) ?? []
            _ = try await connection.request(LeaveGroupRequest(groupId: "live", members: members.map { .init(memberId: $0) }))
            var deleted = try await connection.request(DeleteGroupsRequest(groupsNames: ["live"]))
            // A leave makes the group rebalance to empty; the deletion waits for that.
            for _ in 0..<50 where deleted.results.first?.errorCode == KafkaErrorCode.nonEmptyGroup.rawValue {
                try await Task.sleep(for: .milliseconds(100))
                deleted = try await connection.request(DeleteGroupsRequest(groupsNames: ["live"]))
            }
            #expect(deleted.results.map(\.errorCode) == [0])
            await connection.close()
        }
        try await InProcessBroker.run(Self.settings(), dataDirectory: directory) { broker in
            let connection = try await broker.connect()
            let described = try await connection.request(DescribeGroupsRequest(groups: ["live"]))
            #expect(described.groups.first?.groupState == "Dead")
            let listed = try await connection.request(ListGroupsRequest())
            #expect(!listed.groups.map(\.groupId).contains("live"))
            await connection.close()
        }
    }
}

/// AlterConfigs, the legacy whole-set form: named configs are set, the rest go back to their
/// defaults; read-only ones may be sent back unchanged.
struct AlterConfigsTests {
    @Test func theNamedConfigsReplaceTheWholeSet() async throws {
        try await InProcessBroker.run(prepare: DescribeConfigsTests.prepare) { broker in
            let connection = try await broker.connect()
            // `orders` has retention.ms 60000; naming only retention.bytes resets retention.ms.
            let maximum = String(broker.store.configuration.maximumBatchBytes)
            let replaced = try await connection.request(AlterConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "orders", configs: [.init(name: "retention.bytes", value: "1048576"),
                                                                          .init(name: "max.message.bytes", value: maximum)]),
            ]))
            #expect(replaced.responses.map(\.errorCode) == [0])
            #expect(try broker.store.describe(topic: "orders")?.configuration == TopicConfiguration(
                retentionMilliseconds: -1, retentionBytes: 1_048_576, maximumMessageBytes: Int64(broker.store.configuration.maximumBatchBytes)))

            let refused = try await connection.request(AlterConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "orders", configs: [.init(name: "retention.ms", value: "5"),
                                                                          .init(name: "min.insync.replicas", value: "2")]),
                .init(resourceType: 2, resourceName: "plain", configs: [.init(name: "retention.ms", value: "-7")]),
                .init(resourceType: 2, resourceName: "missing", configs: []),
                .init(resourceType: 4, resourceName: "0", configs: [.init(name: "num.partitions", value: "9")]),
            ]))
            #expect(refused.responses.map(\.errorCode) == [KafkaErrorCode.invalidConfig.rawValue, KafkaErrorCode.invalidConfig.rawValue,
                                                           KafkaErrorCode.unknownTopicOrPartition.rawValue, KafkaErrorCode.invalidConfig.rawValue])
            #expect(refused.responses.allSatisfy { $0.errorMessage != nil })
            // Nothing of a refused resource was applied.
            #expect(try broker.store.describe(topic: "orders")?.configuration.retentionMilliseconds == -1)

            let validated = try await connection.request(AlterConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "plain", configs: [.init(name: "retention.ms", value: "1000")]),
            ], validateOnly: true))
            #expect(validated.responses.map(\.errorCode) == [0])
            #expect(try broker.store.describe(topic: "plain")?.configuration.retentionMilliseconds == -1)
            await connection.close()
        }
    }
}
