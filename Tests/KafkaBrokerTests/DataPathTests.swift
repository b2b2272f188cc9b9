import KafkaClient
import PaynodeTestSupport
import Protocol
import Testing

/// Produce and Fetch through the in-process broker, checked against what its store holds.
struct DataPathTests {
    @Test func keyedRecordsProducedAreFetchedBackInOrderPerPartition() async throws {
        try await InProcessBroker.run { broker in
            let client = broker.client()
            try await client.createTopic("orders", partitions: 3)
            let producer = try KafkaProducer(client: client)
            var sent: [Int32: [String]] = [:]
            for index in 0..<60 {
                let delivery = try await producer.send(topic: "orders", key: bytes("order-\(index % 7)"), value: bytes("payment \(index)"),
                                                       headers: [RecordHeader(key: "trace", value: bytes("t\(index)"))])
                #expect(delivery.partition == KafkaPartitioner.partition(forKey: bytes("order-\(index % 7)"), partitionCount: 3))
                #expect(delivery.offset == Int64(sent[delivery.partition, default: []].count))
                sent[delivery.partition, default: []].append("payment \(index)")
            }
            await producer.close()

            let stored = try #require(try broker.store.describe(topic: "orders"))
            #expect(stored.partitions.map(\.highWatermark) == (0..<3).map { Int64(sent[Int32($0), default: []].count) })
            for partition in Int32(0)..<3 {
                let records = try await client.fetch(topic: "orders", partition: partition, offset: 0)
                #expect(records.map { text($0.value) } == sent[partition, default: []].map(Optional.some))
                #expect(records.allSatisfy { $0.headers.first?.key == "trace" })
            }
            // A fetch from the middle starts at the offset asked for, not at its batch.
            let middle = try await client.fetch(topic: "orders", partition: 0, offset: 2)
            #expect(middle.first?.offset == 2)
            await client.shutdown()
        }
    }

    @Test func anIdempotentProducersResentBatchIsStoredOnceAndAGapIsRefused() async throws {
        try await InProcessBroker.run { broker in
            let client = broker.client()
            try await client.createTopic("outbox", partitions: 1)
            let partition = KafkaTopicPartition("outbox", 0)
            let identity = try await client.initProducerId()
            func fields(_ sequence: Int32) -> KafkaProducerFields {
                KafkaProducerFields(producerId: identity.producerId, producerEpoch: identity.epoch, baseSequence: sequence)
            }
            func records(_ values: [String]) -> [Record] {
                values.map { Record(timestamp: 1_700_000_000_000, key: bytes("order"), value: bytes($0)) }
            }
            #expect(try await client.produce(records(["r0", "r1"]), to: partition, producer: fields(0)) == 0)
            #expect(try await client.produce(records(["r2"]), to: partition, producer: fields(2)) == 2)
            // The same batch again (a retry after a lost answer) gets its original offset back.
            #expect(try await client.produce(records(["r0", "r1"]), to: partition, producer: fields(0)) == 0)
            #expect(try broker.store.describe(topic: "outbox")?.partitions[0].highWatermark == 3)

            await #expect {
                _ = try await client.produce(records(["r9"]), to: partition, producer: fields(9))
            } throws: { error in
                (error as? KafkaClientError)?.kafkaError == .outOfOrderSequenceNumber
            }
            let stored = try await client.fetch(topic: "outbox", partition: 0, offset: 0)
            #expect(stored.map { text($0.value) } == ["r0", "r1", "r2"])
            await client.shutdown()
        }
    }
}
