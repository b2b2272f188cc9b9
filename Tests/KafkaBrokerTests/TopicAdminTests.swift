import KafkaBroker
import KafkaClient
import LogStore
import PaynodeTestSupport
import Protocol
import Testing

/// DeleteTopics, CreatePartitions and DeleteRecords against the in-process broker: what the
/// store holds afterwards, the refusals Kafka gives, ACLs and the node's own topics.
struct TopicAdminBrokerTests {
    /// `orders` (2 partitions, 3 batches of 2 records on partition 0), `audit` (1 partition),
    /// `ledger` (1 partition; only `User:alice` may delete or alter it) and group `reader` with an
    /// offset on `orders`.
    static func prepare(_ store: LogStore) async throws {
        _ = try await store.createTopic("orders", partitions: 2)
        _ = try await store.createTopic("audit", partitions: 1)
        _ = try await store.createTopic("ledger", partitions: 1)
        for batch in 0..<3 {
            _ = try await store.append(topic: "orders", partition: 0, records: (0..<2).map { index in
                Record(timestamp: 1_700_000_000_000, key: nil, value: bytes("\(2 * batch + index)"))
            })
        }
        try await store.commitOffset(group: "reader", topic: "orders", partition: 0, offset: 4)
        let alice = [
            AclBinding(resourceType: .topic, resourceName: "ledger", principal: "User:alice", operation: .delete, permission: .allow),
            AclBinding(resourceType: .topic, resourceName: "ledger", principal: "User:alice", operation: .alter, permission: .allow),
        ]
        try await store.write { transaction in _ = try StoredAcl.add(alice, in: transaction) }
    }

    static func settings(protected: Set<String> = ["audit"]) -> KafkaBrokerSettings {
        var settings = InProcessBroker.defaultSettings()
        settings.broker.protectedTopics = protected
        settings.broker.autoCreateTopics = false
        return settings
    }

    @Test(arguments: [Int16(0), 3, 5, 6])
    func deleteTopicsDeletesDataAndOffsetsAndAnswersEachTopic(version: Int16) async throws {
        try await InProcessBroker.run(Self.settings(), prepare: Self.prepare) { broker in
            let connection = try await broker.connect()
            let request = DeleteTopicsRequest(topicNames: ["orders", "missing", "audit", "ledger", "ledger"])
            let response = try #require(try await connection.send(request, version: version))
            #expect(response.responses.map(\.name) == ["orders", "missing", "audit", "ledger"])
            #expect(response.responses.map(\.errorCode) == [0, KafkaErrorCode.unknownTopicOrPartition.rawValue,
                                                            KafkaErrorCode.policyViolation.rawValue, KafkaErrorCode.invalidRequest.rawValue])
            if version >= 5 {
                #expect(response.responses[2].errorMessage?.contains("payment pipeline") == true)
            }
            #expect(try broker.store.describe(topic: "orders") == nil)
            #expect(try broker.store.read { try $0.committedOffsets(group: "reader") }.isEmpty)
            #expect(try broker.store.describe(topic: "audit") != nil)
            // Gone from Metadata too, and a topic of the same name starts again at offset 0.
            let metadata = try await connection.request(MetadataRequest(topics: [.init(name: "orders")]))
            #expect(metadata.topics.first?.errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue)
            _ = try await broker.store.createTopic("orders", partitions: 1)
            #expect(try broker.store.describe(topic: "orders")?.partitions[0].highWatermark == 0)
            await connection.close()
        }
    }

    @Test func deleteTopicsByIdAndAclsAreRefused() async throws {
        try await InProcessBroker.run(Self.settings(), prepare: Self.prepare) { broker in
            let connection = try await broker.connect()
            let id = KafkaUUID(mostSignificantBits: 7, leastSignificantBits: 9)
            let response = try #require(try await connection.send(DeleteTopicsRequest(topics: [
                .init(name: nil, topicId: id), .init(name: "orders", topicId: id), .init(name: "ledger"),
            ]), version: 6))
            #expect(response.responses.map(\.errorCode) == [KafkaErrorCode.unknownTopicId.rawValue, KafkaErrorCode.invalidRequest.rawValue,
                                                            KafkaErrorCode.topicAuthorizationFailed.rawValue])
            #expect(response.responses[0].topicId == id && response.responses[0].name == nil)
            #expect(try broker.store.describe(topic: "orders") != nil)
            #expect(try broker.store.describe(topic: "ledger") != nil)
            await connection.close()
        }
    }

    @Test(arguments: [Int16(0), 2, 3])
    func createPartitionsGrowsTopicsAndRefusesWhatKafkaRefuses(version: Int16) async throws {
        try await InProcessBroker.run(Self.settings(), prepare: Self.prepare) { broker in
            let connection = try await broker.connect()
            let request = CreatePartitionsRequest(topics: [
                .init(name: "orders", count: 4),
                .init(name: "missing", count: 2),
                .init(name: "audit", count: 3),
                .init(name: "ledger", count: 3),
            ])
            let response = try #require(try await connection.send(request, version: version))
            #expect(response.results.map(\.errorCode) == [0, KafkaErrorCode.unknownTopicOrPartition.rawValue,
                                                          KafkaErrorCode.policyViolation.rawValue, KafkaErrorCode.topicAuthorizationFailed.rawValue])
            #expect(try broker.store.describe(topic: "orders")?.partitionCount == 4)
            #expect(try broker.store.describe(topic: "audit")?.partitionCount == 1)
            // The new partitions are served at once: produce to partition 3 and read it back.
            let metadata = try await connection.request(MetadataRequest(topics: [.init(name: "orders")]))
            #expect(metadata.topics.first?.partitions.count == 4)
            _ = try await broker.store.append(topic: "orders", partition: 3, records: [Record(timestamp: 1, key: nil, value: bytes("new"))])
            #expect(try broker.store.describe(topic: "orders")?.partitions[3].highWatermark == 1)

            // Fewer or as many partitions: INVALID_PARTITIONS, with Kafka's reason.
            let shrink = try #require(try await connection.send(CreatePartitionsRequest(topics: [.init(name: "orders", count: 4)]), version: version))
            #expect(shrink.results.first?.errorCode == KafkaErrorCode.invalidPartitions.rawValue)
            #expect(shrink.results.first?.errorMessage?.contains("must be larger") == true)
            await connection.close()
        }
    }

    @Test func createPartitionsValidateOnlyAssignmentsAndDuplicates() async throws {
        try await InProcessBroker.run(Self.settings(), prepare: Self.prepare) { broker in
            let connection = try await broker.connect()
            let validated = try await connection.request(CreatePartitionsRequest(topics: [.init(name: "orders", count: 5)], validateOnly: true))
            #expect(validated.results.map(\.errorCode) == [0])
            #expect(try broker.store.describe(topic: "orders")?.partitionCount == 2)

            let assigned = try await connection.request(CreatePartitionsRequest(topics: [
                .init(name: "orders", count: 3, assignments: [[0]]),
                .init(name: "ledger", count: 2, assignments: [[1]]),
            ]))
            // Node 0 is this broker; the ledger answer comes from its ACL first.
            #expect(assigned.results.map(\.errorCode) == [0, KafkaErrorCode.topicAuthorizationFailed.rawValue])
            let wrong = try await connection.request(CreatePartitionsRequest(topics: [.init(name: "orders", count: 5, assignments: [[0], [1]])]))
            #expect(wrong.results.first?.errorCode == KafkaErrorCode.invalidReplicaAssignment.rawValue)
            let twice = try await connection.request(CreatePartitionsRequest(topics: [.init(name: "orders", count: 6), .init(name: "orders", count: 7)]))
            #expect(twice.results.map(\.errorCode) == [KafkaErrorCode.invalidRequest.rawValue, KafkaErrorCode.invalidRequest.rawValue])
            let tooMany = try await connection.request(CreatePartitionsRequest(topics: [.init(name: "orders", count: 1_000_000)]))
            #expect(tooMany.results.first?.errorCode == KafkaErrorCode.invalidPartitions.rawValue)
            #expect(try broker.store.describe(topic: "orders")?.partitionCount == 3)
            await connection.close()
        }
    }

    @Test(arguments: [Int16(0), 1, 2])
    func deleteRecordsMovesTheLowWatermarkPerPartition(version: Int16) async throws {
        try await InProcessBroker.run(Self.settings(), prepare: Self.prepare) { broker in
            let connection = try await broker.connect()
            let request = DeleteRecordsRequest(topics: [
                .init(name: "orders", partitions: [.init(partitionIndex: 0, offset: 3), .init(partitionIndex: 1, offset: 1),
                                                   .init(partitionIndex: 7, offset: 0), .init(partitionIndex: 0, offset: 2)]),
                .init(name: "missing", partitions: [.init(partitionIndex: 0, offset: 0)]),
                .init(name: "audit", partitions: [.init(partitionIndex: 0, offset: -1)]),
                .init(name: "ledger", partitions: [.init(partitionIndex: 0, offset: -1)]),
            ])
            let response = try #require(try await connection.send(request, version: version))
            let orders = try #require(response.topics.first { $0.name == "orders" })
            // Partition 0 named twice: answered once, up to the larger offset.
            #expect(orders.partitions.map(\.partitionIndex) == [0, 1, 7])
            #expect(orders.partitions.map(\.errorCode) == [0, KafkaErrorCode.offsetOutOfRange.rawValue, KafkaErrorCode.unknownTopicOrPartition.rawValue])
            #expect(orders.partitions.map(\.lowWatermark) == [3, -1, -1])
            #expect(response.topics.map(\.name) == ["orders", "missing", "audit", "ledger"])
            #expect(response.topics.map { $0.partitions[0].errorCode } == [0, KafkaErrorCode.unknownTopicOrPartition.rawValue,
                                                                           KafkaErrorCode.policyViolation.rawValue, KafkaErrorCode.topicAuthorizationFailed.rawValue])
            // ListOffsets earliest and Fetch agree with the new log start.
            let earliest = try await connection.request(ListOffsetsRequest(replicaId: -1, isolationLevel: 0, topics: [
                .init(name: "orders", partitions: [.init(partitionIndex: 0, timestamp: -2)]),
            ]))
            #expect(earliest.topics.first?.partitions.first?.offset == 3)
            let fetch = try await connection.request(FetchRequest(replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0,
                                                                  topics: [.init(topic: "orders", partitions: [.init(partition: 0, fetchOffset: 1, partitionMaxBytes: 1 << 20)])]))
            #expect(fetch.responses.first?.partitions.first?.errorCode == KafkaErrorCode.offsetOutOfRange.rawValue)
            // -1: up to the high watermark.
            let all = try await connection.request(DeleteRecordsRequest(topics: [.init(name: "orders", partitions: [.init(partitionIndex: 0, offset: -1)])]))
            #expect(all.topics.first?.partitions.first?.lowWatermark == 6)
            #expect(try broker.store.describe(topic: "orders")?.partitions[0].batchCount == 0)
            await connection.close()
        }
    }
}
