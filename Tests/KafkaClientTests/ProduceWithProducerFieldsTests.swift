import Foundation
import KafkaClient
import PaynodeTestSupport
import Protocol
import Testing

/// `KafkaClient.produce(_:to:producer:)`: the path a transactional outbox re-sends through.
@Suite(.serialized) struct ProduceWithProducerFieldsTests {
    func client(port: Int) -> KafkaClient {
        KafkaClient(configuration: KafkaClientConfiguration(
            bootstrapServers: [KafkaBrokerAddress(host: "127.0.0.1", port: port)],
            connection: .init(clientId: "outbox-tests", requestTimeout: .seconds(20)),
            reconnectBackoff: KafkaBackoff(initial: .milliseconds(20), maximum: .milliseconds(200)),
            reconnectAttempts: 10))
    }

    func records(_ values: [String]) -> [Record] {
        values.map { Record(timestamp: 1_700_000_000_000, key: Array("order".utf8), value: Array($0.utf8)) }
    }

    @Test func aStoredBatchReSentAfterALostAnswerIsDeduplicated() async throws {
        try await InProcessBroker.run { broker in
            let admin = client(port: broker.port)
            defer { Task { await admin.shutdown() } }
            try await admin.createTopic("outbox", partitions: 1)
            let partition = KafkaTopicPartition("outbox", 0)
            let identity = try await admin.initProducerId()
            func fields(_ sequence: Int32) -> KafkaProducerFields {
                KafkaProducerFields(producerId: identity.producerId, producerEpoch: identity.epoch, baseSequence: sequence)
            }
            #expect(try await admin.produce(records(["r0", "r1"]), to: partition, producer: fields(0)) == 0)

            // The broker appends sequences 2...4 but the answer is lost: the send fails.
            let proxy = try await DroppingProxy(targetPort: broker.port)
            let lossy = client(port: proxy.port)
            proxy.loseNextProduceResponse()
            await #expect(throws: KafkaClientError.self) {
                _ = try await lossy.produce(records(["r2", "r3", "r4"]), to: partition, producer: fields(2))
            }
            #expect(proxy.droppedResponses == 1)
            await lossy.shutdown()
            await proxy.close()

            // As after an executor restart: a new connection re-sends the stored batch as it was
            // (same producer id, epoch and sequence range) and gets the ORIGINAL offset back.
            let restarted = client(port: broker.port)
            defer { Task { await restarted.shutdown() } }
            #expect(try await restarted.produce(records(["r2", "r3", "r4"]), to: partition, producer: fields(2)) == 2)
            // An older batch still among the last five is a duplicate too.
            #expect(try await restarted.produce(records(["r0", "r1"]), to: partition, producer: fields(0)) == 0)
            // The numbering continues after the range.
            #expect(try await restarted.produce(records(["r5"]), to: partition, producer: fields(5)) == 5)

            let stored = try await admin.fetch(topic: "outbox", partition: 0, offset: 0)
            #expect(stored.map { String(decoding: $0.value ?? [], as: UTF8.self) } == ["r0", "r1", "r2", "r3", "r4", "r5"])
        }
    }

    @Test func aSequenceGapIsReportedToTheCaller() async throws {
        try await InProcessBroker.run { broker in
            let admin = client(port: broker.port)
            defer { Task { await admin.shutdown() } }
            try await admin.createTopic("gap", partitions: 1)
            let partition = KafkaTopicPartition("gap", 0)
            let identity = try await admin.initProducerId()
            _ = try await admin.produce(records(["a"]), to: partition,
                                        producer: KafkaProducerFields(producerId: identity.producerId, producerEpoch: identity.epoch, baseSequence: 0))
            do {
                _ = try await admin.produce(records(["b"]), to: partition,
                                            producer: KafkaProducerFields(producerId: identity.producerId, producerEpoch: identity.epoch, baseSequence: 7))
                Issue.record("a sequence gap was accepted")
            } catch let error as KafkaClientError {
                #expect(error.kafkaError == .outOfOrderSequenceNumber)
            }
        }
    }
}
