import KafkaBroker
import KafkaClient
import LogStore
import PaynodeTestSupport
import Protocol
import Testing

/// DescribeConfigs answered from the store and the node's settings, at the version the client
/// negotiates (v4, flexible, with paynode's own client).
struct DescribeConfigsTests {
    static func prepare(_ store: LogStore) async throws {
        _ = try await store.createTopic("orders", partitions: 2, configuration: TopicConfiguration(retentionMilliseconds: 60_000))
        _ = try await store.createTopic("plain", partitions: 1)
        // Only alice may write `ledger`: with an ACL on the topic, nobody else may describe it.
        _ = try await store.createTopic("ledger", partitions: 1)
        let aliceWrites = AclBinding(resourceType: .topic, resourceName: "ledger", principal: "User:alice", operation: .write, permission: .allow)
        try await store.write { transaction in _ = try StoredAcl.add([aliceWrites], in: transaction) }
    }

    static func entries(_ result: DescribeConfigsResponse.Result) -> [String: DescribeConfigsResponse.Entry] {
        Dictionary(uniqueKeysWithValues: result.configs.map { ($0.name, $0) })
    }

    @Test func topicConfigsAreTheStoredOnesWithTheirSources() async throws {
        try await InProcessBroker.run(prepare: Self.prepare) { broker in
            let connection = try await broker.connect()
            let response = try await connection.request(DescribeConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "orders"), .init(resourceType: 2, resourceName: "plain"),
            ], includeSynonyms: true, includeDocumentation: true))
            #expect(response.results.map(\.errorCode) == [0, 0])
            let orders = Self.entries(response.results[0])
            #expect(orders["retention.ms"]?.value == "60000")
            #expect(orders["retention.ms"]?.configSource == DescribeConfigsResponse.ConfigSource.dynamicTopicConfig.rawValue)
            #expect(orders["retention.ms"]?.synonyms.map(\.name) == ["retention.ms", "log.retention.ms"])
            #expect(orders["retention.ms"]?.configType == DescribeConfigsResponse.ConfigType.long.rawValue)
            #expect(orders["retention.ms"]?.documentation?.isEmpty == false)
            #expect(orders["cleanup.policy"]?.value == "delete")
            #expect(orders["max.message.bytes"]?.value == String(broker.store.configuration.maximumBatchBytes))
            #expect(orders.values.allSatisfy { $0.readOnly && !$0.isSensitive })
            let plain = Self.entries(response.results[1])
            #expect(plain["retention.ms"]?.value == "-1")
            #expect(plain["retention.ms"]?.configSource == DescribeConfigsResponse.ConfigSource.defaultConfig.rawValue)
            #expect(plain["retention.ms"]?.synonyms.map(\.name) == ["log.retention.ms"])
            await connection.close()
        }
    }

    @Test func keysSelectEntriesAndSynonymsAndDocumentationOnlyWhenAsked() async throws {
        try await InProcessBroker.run(prepare: Self.prepare) { broker in
            let connection = try await broker.connect()
            let response = try await connection.request(DescribeConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "orders", configurationKeys: ["retention.bytes", "no.such.config"]),
            ]))
            #expect(response.results.count == 1)
            #expect(response.results[0].configs.map(\.name) == ["retention.bytes"])
            #expect(response.results[0].configs[0].synonyms.isEmpty && response.results[0].configs[0].documentation == nil)
            await connection.close()
        }
    }

    @Test func brokerConfigsAreTheNodesSettings() async throws {
        try await InProcessBroker.run(prepare: Self.prepare) { broker in
            let connection = try await broker.connect()
            let response = try await connection.request(DescribeConfigsRequest(resources: [
                .init(resourceType: 4, resourceName: "0"), .init(resourceType: 4, resourceName: ""),
                .init(resourceType: 4, resourceName: "7"),
            ]))
            #expect(response.results.map(\.errorCode) == [0, 0, KafkaErrorCode.invalidRequest.rawValue])
            let node = Self.entries(response.results[0])
            #expect(node["broker.id"]?.value == "0")
            #expect(node["num.partitions"]?.value == String(InProcessBroker.defaultSettings().broker.defaultPartitions))
            #expect(node["auto.create.topics.enable"] != nil && node["message.max.bytes"] != nil)
            await connection.close()
        }
    }

    @Test func unknownTopicsUnservedTypesDuplicatesAndDeniedTopicsAreAnsweredPerResource() async throws {
        try await InProcessBroker.run(prepare: Self.prepare) { broker in
            let connection = try await broker.connect()
            let response = try await connection.request(DescribeConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "missing"), .init(resourceType: 8, resourceName: "0"),
                .init(resourceType: 2, resourceName: "plain"), .init(resourceType: 2, resourceName: "plain"),
                .init(resourceType: 2, resourceName: "ledger"),
            ]))
            #expect(response.results.map(\.resourceName) == ["missing", "0", "plain", "ledger"])
            #expect(response.results.map(\.errorCode) == [KafkaErrorCode.unknownTopicOrPartition.rawValue, KafkaErrorCode.invalidRequest.rawValue,
                                                          0, KafkaErrorCode.topicAuthorizationFailed.rawValue])
            #expect(response.results[3].configs.isEmpty)
            #expect(response.results.allSatisfy { $0.errorCode == 0 || $0.errorMessage != nil })
            await connection.close()
        }
    }
}
