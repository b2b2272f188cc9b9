@testable import KafkaBroker
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
            #expect(orders.values.allSatisfy { !$0.isSensitive })
            #expect(orders.values.filter { !$0.readOnly }.map(\.name).sorted() == ["cleanup.policy", "max.message.bytes", "paynode.value.schema", "retention.bytes", "retention.ms"])
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

/// IncrementalAlterConfigs: a topic's retention changes at run time, all of a resource's
/// operations or none, and DescribeConfigs shows the result.
struct IncrementalAlterConfigsTests {
    typealias Config = IncrementalAlterConfigsRequest.AlterableConfig

    @Test func setAndDeleteChangeTheStoredRetention() async throws {
        try await InProcessBroker.run(prepare: DescribeConfigsTests.prepare) { broker in
            let connection = try await broker.connect()
            let set = try await connection.request(IncrementalAlterConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "plain", configs: [
                    Config(name: "retention.ms", configOperation: 0, value: "86400000"),
                    Config(name: "cleanup.policy", configOperation: 0, value: "delete"),
                ]),
                .init(resourceType: 2, resourceName: "orders", configs: [Config(name: "retention.ms", configOperation: 1, value: nil)]),
            ]))
            #expect(set.responses.map(\.errorCode) == [0, 0])
            #expect(try broker.store.describe(topic: "plain")?.configuration.retentionMilliseconds == 86_400_000)
            #expect(try broker.store.describe(topic: "orders")?.configuration.retentionMilliseconds == -1)
            let described = try await connection.request(DescribeConfigsRequest(resources: [.init(resourceType: 2, resourceName: "plain")]))
            let entry = described.results[0].configs.first { $0.name == "retention.ms" }
            #expect(entry?.value == "86400000" && entry?.configSource == DescribeConfigsResponse.ConfigSource.dynamicTopicConfig.rawValue)
            await connection.close()
        }
    }

    @Test func aRefusedOperationLeavesTheWholeResourceAndValidateOnlyLeavesEverything() async throws {
        try await InProcessBroker.run(prepare: DescribeConfigsTests.prepare) { broker in
            let connection = try await broker.connect()
            let refused = try await connection.request(IncrementalAlterConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "orders", configs: [
                    Config(name: "retention.bytes", configOperation: 0, value: "1048576"),
                    Config(name: "cleanup.policy", configOperation: 0, value: "compact"),
                ]),
                .init(resourceType: 2, resourceName: "plain", configs: [Config(name: "retention.ms", configOperation: 0, value: "soon")]),
                .init(resourceType: 2, resourceName: "plain2", configs: [Config(name: "retention.ms", configOperation: 2, value: "1")]),
                .init(resourceType: 2, resourceName: "missing", configs: [Config(name: "retention.ms", configOperation: 0, value: "1")]),
                .init(resourceType: 2, resourceName: "ledger", configs: [Config(name: "retention.ms", configOperation: 0, value: "1")]),
                .init(resourceType: 4, resourceName: "0", configs: [Config(name: "num.partitions", configOperation: 0, value: "9")]),
                .init(resourceType: 2, resourceName: "orders-x", configs: [Config(name: "no.such", configOperation: 0, value: "1")]),
                .init(resourceType: 2, resourceName: "orders-y", configs: [Config(name: "retention.ms", configOperation: 9, value: "1")]),
            ]))
            let invalidConfig = KafkaErrorCode.invalidConfig.rawValue
            #expect(refused.responses.map(\.errorCode) == [
                invalidConfig, invalidConfig, KafkaErrorCode.unknownTopicOrPartition.rawValue, KafkaErrorCode.unknownTopicOrPartition.rawValue,
                KafkaErrorCode.topicAuthorizationFailed.rawValue, invalidConfig, KafkaErrorCode.unknownTopicOrPartition.rawValue,
                KafkaErrorCode.unknownTopicOrPartition.rawValue,
            ])
            #expect(refused.responses.allSatisfy { $0.errorMessage != nil })
            // The SET beside the refused cleanup.policy was not applied.
            #expect(try broker.store.describe(topic: "orders")?.configuration == TopicConfiguration(retentionMilliseconds: 60_000))
            let validated = try await connection.request(IncrementalAlterConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "orders", configs: [Config(name: "retention.ms", configOperation: 0, value: "5")]),
            ], validateOnly: true))
            #expect(validated.responses.map(\.errorCode) == [0])
            #expect(try broker.store.describe(topic: "orders")?.configuration.retentionMilliseconds == 60_000)
            let twice = try await connection.request(IncrementalAlterConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "orders", configs: []), .init(resourceType: 2, resourceName: "orders", configs: []),
            ]))
            #expect(twice.responses.map(\.errorCode) == [KafkaErrorCode.invalidRequest.rawValue, KafkaErrorCode.invalidRequest.rawValue])
            await connection.close()
        }
    }

    /// The pure rules, without a broker.
    @Test func operationsApplyInOrderOrNotAtAll() {
        let start = TopicConfiguration(retentionMilliseconds: 10, retentionBytes: 20)
        func refusal(_ configs: [Config]) -> KafkaErrorCode? {
            if case .failure(let refusal) = ConfigCatalog.apply(configs, to: start, maximumBatchBytes: 1000) { return refusal.code }
            return nil
        }
        let applied = try? ConfigCatalog.apply([Config(name: "retention.bytes", configOperation: 0, value: "-1"),
                                                Config(name: "retention.ms", configOperation: 1, value: nil)], to: start, maximumBatchBytes: 1000).get()
        #expect(applied == TopicConfiguration())
        #expect(refusal([Config(name: "retention.ms", configOperation: 0, value: "-2")]) == .invalidConfig)
        #expect(refusal([Config(name: "retention.ms", configOperation: 0, value: nil)]) == .invalidConfig)
        #expect(refusal([Config(name: "retention.ms", configOperation: 0, value: "1"),
                         Config(name: "retention.ms", configOperation: 1, value: nil)]) == .invalidRequest)
        #expect(refusal([Config(name: "cleanup.policy", configOperation: 0, value: "delete")]) == nil)
        // max.message.bytes: 0 up to the node's maximum batch size.
        #expect(refusal([Config(name: "max.message.bytes", configOperation: 0, value: "1000")]) == nil)
        #expect(refusal([Config(name: "max.message.bytes", configOperation: 0, value: "1001")]) == .invalidConfig)
        #expect(refusal([Config(name: "max.message.bytes", configOperation: 0, value: "-1")]) == .invalidConfig)
        #expect(refusal([Config(name: "max.message.bytes", configOperation: 2, value: "1")]) == .invalidConfig)
        let limited = try? ConfigCatalog.apply([Config(name: "max.message.bytes", configOperation: 0, value: "512")], to: start,
                                               maximumBatchBytes: 1000).get()
        #expect(limited?.maximumMessageBytes == 512)
        let restored = try? ConfigCatalog.apply([Config(name: "max.message.bytes", configOperation: 1, value: nil)], to: limited ?? start,
                                                maximumBatchBytes: 1000).get()
        #expect(restored?.maximumMessageBytes == -1)
    }

    /// A topic's max.message.bytes binds producers at once and is shown as the topic's own;
    /// DELETE gives the node's limit back.
    @Test func maxMessageBytesChangesAtRunTime() async throws {
        try await InProcessBroker.run(prepare: DescribeConfigsTests.prepare) { broker in
            let connection = try await broker.connect()
            func produce(_ size: Int) async throws -> Int16? {
                let batch = try RecordBatch.encode(records: [Record(timestamp: 1_700_000_000_000, key: nil, value: [UInt8](repeating: 7, count: size))])
                let response = try await connection.request(ProduceRequest(acks: -1, timeoutMs: 5000, topicData: [
                    .init(name: "plain", partitionData: [.init(index: 0, records: batch)]),
                ]))
                return response.responses.first?.partitionResponses.first?.errorCode
            }
            let set = try await connection.request(IncrementalAlterConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "plain", configs: [Config(name: "max.message.bytes", configOperation: 0, value: "1024")]),
            ]))
            #expect(set.responses.map(\.errorCode) == [0])
            #expect(try await produce(100) == 0)
            #expect(try await produce(2000) == KafkaErrorCode.messageTooLarge.rawValue)
            let described = try await connection.request(DescribeConfigsRequest(resources: [.init(resourceType: 2, resourceName: "plain")]))
            let entry = described.results[0].configs.first { $0.name == "max.message.bytes" }
            #expect(entry?.value == "1024" && entry?.configSource == DescribeConfigsResponse.ConfigSource.dynamicTopicConfig.rawValue)
            #expect(entry?.readOnly == false)
            let tooBig = try await connection.request(IncrementalAlterConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "plain", configs: [
                    Config(name: "max.message.bytes", configOperation: 0, value: String(broker.store.configuration.maximumBatchBytes + 1)),
                ]),
            ]))
            #expect(tooBig.responses.map(\.errorCode) == [KafkaErrorCode.invalidConfig.rawValue])
            let deleted = try await connection.request(IncrementalAlterConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "plain", configs: [Config(name: "max.message.bytes", configOperation: 1, value: nil)]),
            ]))
            #expect(deleted.responses.map(\.errorCode) == [0])
            #expect(try await produce(2000) == 0)
            await connection.close()
        }
    }
}
