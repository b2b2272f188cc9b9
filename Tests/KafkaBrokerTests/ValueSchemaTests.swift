import KafkaBroker
import KafkaClient
import LogStore
import PaynodeTestSupport
import Protocol
import Testing

/// A topic's `paynode.value.schema`: set at creation or altered, every produced record's value
/// checked before it is stored, refusals answered INVALID_RECORD naming the record and field.
struct ValueSchemaTests {
    /// A stand-in schema: the value must be the bytes "ok".
    static func settings() -> KafkaBrokerSettings {
        var settings = InProcessBroker.defaultSettings()
        settings.broker.valueSchemas = ["test.Ok": { value in value == Array("ok".utf8) ? nil : "test.Ok field text is not \"ok\"" }]
        return settings
    }

    static func produce(_ connection: KafkaConnection, topic: String, values: [String]) async throws -> ProduceResponse.PartitionProduceResponse? {
        let batch = try RecordBatch.encode(records: values.map { Record(timestamp: 1_700_000_000_000, key: nil, value: Array($0.utf8)) })
        let response = try await connection.request(ProduceRequest(acks: -1, timeoutMs: 5000, topicData: [
            .init(name: topic, partitionData: [.init(index: 0, records: batch)]),
        ]))
        return response.responses.first?.partitionResponses.first
    }

    @Test func recordsNotOfTheSchemaAreRefusedAndNothingIsStored() async throws {
        try await InProcessBroker.run(Self.settings()) { broker in
            let connection = try await broker.connect()
            let created = try await connection.request(CreateTopicsRequest(topics: [
                .init(name: "checked", numPartitions: 1, replicationFactor: 1, configs: [.init(name: "paynode.value.schema", value: "test.Ok")]),
                .init(name: "unknown-schema", numPartitions: 1, replicationFactor: 1, configs: [.init(name: "paynode.value.schema", value: "no.Such")]),
            ]))
            #expect(created.topics.map(\.errorCode) == [0, KafkaErrorCode.invalidRequest.rawValue])
            #expect(try await Self.produce(connection, topic: "checked", values: ["ok", "ok"])?.errorCode == 0)
            let refused = try #require(try await Self.produce(connection, topic: "checked", values: ["ok", "bad", "ok"]))
            #expect(refused.errorCode == KafkaErrorCode.invalidRecord.rawValue)
            #expect(refused.errorMessage?.contains("record 1") == true && refused.errorMessage?.contains("field text") == true)
            #expect(refused.recordErrors.map(\.batchIndex) == [1])
            #expect(try broker.store.describe(topic: "checked")?.partitions[0].highWatermark == 2)

            // DELETE lifts the requirement; SET of an unknown message is refused.
            let lifted = try await connection.request(IncrementalAlterConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "checked", configs: [.init(name: "paynode.value.schema", configOperation: 1, value: nil)]),
            ]))
            #expect(lifted.responses.map(\.errorCode) == [0])
            #expect(try await Self.produce(connection, topic: "checked", values: ["anything"])?.errorCode == 0)
            let unknown = try await connection.request(IncrementalAlterConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "checked", configs: [.init(name: "paynode.value.schema", configOperation: 0, value: "no.Such")]),
            ]))
            #expect(unknown.responses.map(\.errorCode) == [KafkaErrorCode.invalidConfig.rawValue])
            await connection.close()
        }
    }
}
