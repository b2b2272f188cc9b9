import Foundation
import KafkaClient
import PaynodeTestSupport
import Protocol
import Testing

/// The client against the node's broker: in process, except where the test is about the
/// `paynode broker` process itself (a graceful stop, a restart on the same data directory).
@Suite(.serialized) struct BrokerIntegrationTests {
    func client(_ address: KafkaBrokerAddress, attempts: Int = 10) -> KafkaClient {
        KafkaClient(configuration: KafkaClientConfiguration(
            bootstrapServers: [address],
            connection: .init(clientId: "kafka-client-tests", requestTimeout: .seconds(20)),
            reconnectBackoff: KafkaBackoff(initial: .milliseconds(50), maximum: .milliseconds(500)),
            reconnectAttempts: attempts))
    }

    func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

    @Test func idempotentProducerRoundTripsFiveThousandKeyedRecords() async throws {
        try await InProcessBroker.run { broker in
            let admin = client(broker.address)
            let producerClient = client(broker.address)
            defer { Task { await admin.shutdown(); await producerClient.shutdown() } }
            try await admin.createTopic("orders", partitions: 3)

            let producer = try KafkaProducer(client: producerClient)
            let count = 5000
            let deliveries = try await withThrowingTaskGroup(of: (Int, KafkaProducer.Delivery).self) { group in
                for index in 0..<count {
                    group.addTask {
                        let delivery = try await producer.send(
                            topic: "orders", key: self.bytes("order-\(index)"), value: self.bytes("payment \(index) " + String(repeating: "x", count: index % 50)),
                            headers: [RecordHeader(key: "traceparent", value: self.bytes("00-\(index)-01")), RecordHeader(key: "schema", value: nil)])
                        return (index, delivery)
                    }
                }
                var result = [KafkaProducer.Delivery?](repeating: nil, count: count)
                for try await (index, delivery) in group { result[index] = delivery }
                return result.map { $0! }
            }
            await producer.close()

            // Keyed partitioning is Java's murmur2, and offsets are dense per partition.
            for index in 0..<count {
                #expect(deliveries[index].partition == KafkaPartitioner.partition(forKey: bytes("order-\(index)"), partitionCount: 3))
            }
            let state = await producer.exportState()
            #expect(state.producerId >= 0)
            #expect(state.nextSequences.values.reduce(0) { $0 + Int($1) } == count)

            let latest = try await admin.listOffsets(topic: "orders", spec: .latest)
            let earliest = try await admin.listOffsets(topic: "orders", spec: .earliest)
            #expect(latest.values.reduce(0) { $0 + $1.offset } == Int64(count))
            #expect(earliest.values.allSatisfy { $0.offset == 0 })

            var byOffset: [KafkaTopicPartition: Int] = [:]
            for (index, delivery) in deliveries.enumerated() {
                let key = KafkaTopicPartition("orders", delivery.partition)
                #expect(byOffset.updateValue(index, forKey: KafkaTopicPartition("orders-\(delivery.offset)", delivery.partition)) == nil,
                        "two sends got \(key) offset \(delivery.offset)")
            }
            var fetched = 0
            for partition in Int32(0)..<3 {
                var offset: Int64 = 0
                let end = latest[partition]!.offset
                while offset < end {
                    // Small maxBytes: many fetches, starting inside batches.
                    let records = try await admin.fetch(topic: "orders", partition: partition, offset: offset, maxBytes: 4096)
                    #expect(!records.isEmpty)
                    #expect(records.first?.offset == offset)
                    for record in records {
                        guard let index = byOffset[KafkaTopicPartition("orders-\(record.offset)", partition)] else {
                            Issue.record("record at orders-\(partition)@\(record.offset) was not sent"); continue
                        }
                        #expect(record.key == bytes("order-\(index)"))
                        #expect(record.value == bytes("payment \(index) " + String(repeating: "x", count: index % 50)))
                        #expect(record.headers == [RecordHeader(key: "traceparent", value: bytes("00-\(index)-01")), RecordHeader(key: "schema", value: nil)])
                        fetched += 1
                    }
                    offset = records.last!.offset + 1
                }
            }
            #expect(fetched == count)

            // Fetch starting in the middle of a batch skips the records before the offset.
            let middle = try await admin.fetch(topic: "orders", partition: 0, offset: 7)
            #expect(middle.first?.offset == 7)

            // Committed offsets and their metadata come back as stored.
            let commits = Dictionary(uniqueKeysWithValues: (Int32(0)..<3).map {
                (KafkaTopicPartition("orders", $0), KafkaOffsetAndMetadata(offset: latest[$0]!.offset - Int64($0), metadata: "m-\($0)"))
            })
            try await admin.commitOffsets(group: "payments", commits)
            #expect(try await admin.fetchOffsets(group: "payments", topics: ["orders"]) == commits)
            #expect(try await admin.fetchOffsets(group: "payments") == commits)
            #expect(try await admin.fetchOffsets(group: "nobody", topics: ["orders"]).isEmpty)
        }
    }

    @Test func gzipBatchesTimestampsAndListOffsetsByTime() async throws {
        try await InProcessBroker.run { broker in
            let admin = client(broker.address)
            defer { Task { await admin.shutdown() } }
            try await admin.createTopic("timed", partitions: 1, configs: ["retention.ms": "-1"])
            let producer = try KafkaProducer(client: admin, configuration: .init(compression: .gzip))
            for index in 0..<10 {
                let delivery = try await producer.send(topic: "timed", key: nil, value: bytes("v\(index)"), timestamp: 1_000_000 + Int64(index) * 1000)
                #expect(delivery == (0, Int64(index)))
            }
            let found = try await admin.listOffsets(topic: "timed", partitions: [0], spec: .timestamp(1_003_500))
            #expect(found[0] == KafkaListedOffset(offset: 4, timestamp: 1_004_000))
            let none = try await admin.listOffsets(topic: "timed", partitions: [0], spec: .timestamp(9_000_000))
            #expect(none[0]?.offset == -1)
            let records = try await admin.fetch(topic: "timed", partition: 0, offset: 0)
            #expect(records.map(\.timestamp) == (0..<10).map { 1_000_000 + Int64($0) * 1000 })
            #expect(records.map(\.value) == (0..<10).map { bytes("v\($0)") })
        }
    }

    @Test func pipelinedRequestsErrorsAndReconnect() async throws {
        let broker = try BrokerProcess()
        defer { broker.remove() }
        let admin = client(broker.address, attempts: 40)
        defer { Task { await admin.shutdown() } }
        try await admin.createTopic("pipes", partitions: 2)

        // 200 requests in flight on one connection, answered in order.
        let connection = try await admin.connection()
        #expect(connection.versions.version(for: .fetch) == 11)
        #expect(connection.versions.version(for: .produce) == 8)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask {
                    if index % 2 == 0 {
                        let response = try await connection.request(MetadataRequest(topics: [.init(name: "pipes")], allowAutoTopicCreation: false))
                        #expect(response.topics.first?.partitions.count == 2)
                    } else {
                        let response = try await connection.request(ListOffsetsRequest(topics: [.init(name: "pipes", partitions: [.init(partitionIndex: 1, timestamp: -1)])]))
                        #expect(response.topics.first?.partitions.first?.offset == 0)
                    }
                }
            }
            try await group.waitForAll()
        }

        // Broker errors carry the code and name the topic and partition.
        let error = await #expect(throws: KafkaClientError.self) {
            _ = try await admin.fetch(topic: "pipes", partition: 1, offset: 50)
        }
        #expect(error?.kafkaError == .offsetOutOfRange)
        #expect(error?.topic == "pipes" && error?.partition == 1)
        #expect(error?.description.contains("pipes-1") == true)
        let exists = await #expect(throws: KafkaClientError.self) { try await admin.createTopic("pipes", partitions: 2) }
        #expect(exists?.kafkaError == .topicAlreadyExists)

        // A graceful broker shutdown answers a waiting long poll at once (empty) instead of
        // holding it to its deadline, then closes; the client sees the close and reconnects.
        let poll = Task { try await connection.request(FetchRequest(maxWaitMs: 10_000, minBytes: 1, topics: [.init(topic: "pipes", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1024)])])) }
        try await Task.sleep(for: .milliseconds(200))
        let port = broker.kafkaPort
        let stopping = ContinuousClock.now
        broker.stop()
        #expect(ContinuousClock.now - stopping < .seconds(5))
        let answered = try await poll.value
        #expect(answered.responses.first?.partitions.first?.records?.readableBytes ?? 0 == 0)
        let afterClose = await #expect(throws: KafkaClientError.self) {
            _ = try await connection.request(ListOffsetsRequest(topics: [.init(name: "pipes", partitions: [.init(partitionIndex: 0, timestamp: -1)])]))
        }
        #expect(afterClose?.code == .connectionClosed)
        #expect(!connection.isActive)

        let restarted = try BrokerProcess(kafkaPort: port, dataDirectory: broker.dataDirectory)
        defer { restarted.stop() }
        let metadata = try await admin.metadata(topics: ["pipes"])
        #expect(metadata.topics["pipes"]?.partitionCount == 2)
        #expect(try await admin.connection() !== connection)
    }

    @Test func aTimedOutRequestFailsAndClosesTheConnection() async throws {
        try await InProcessBroker.run { broker in
            let admin = client(broker.address)
            defer { Task { await admin.shutdown() } }
            try await admin.createTopic("slow", partitions: 1)
            let connection = try await admin.connection()
            let error = await #expect(throws: KafkaClientError.self) {
                _ = try await connection.request(FetchRequest(maxWaitMs: 5_000, minBytes: 1, topics: [.init(topic: "slow", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1024)])]),
                                                  timeout: .milliseconds(300))
            }
            #expect(error?.code == .requestTimedOut)
            try await Task.sleep(for: .milliseconds(100))
            #expect(!connection.isActive)
            // The next operation simply reconnects.
            #expect(try await admin.partitionCount(for: "slow") == 1)
        }
    }

    @Test func aRestoredProducerContinuesAndAStaleSequenceIsNotDuplicated() async throws {
        try await InProcessBroker.run { broker in
            let admin = client(broker.address)
            defer { Task { await admin.shutdown() } }
            try await admin.createTopic("resume", partitions: 1)

            let first = try KafkaProducer(client: admin)
            for index in 0..<5 { _ = try await first.send(topic: "resume", key: nil, value: bytes("a\(index)")) }
            let saved = await first.exportState()
            await first.close()
            #expect(saved.nextSequence(for: .init("resume", 0)) == 5)

            // Same producer id and sequences after a "restart": the broker accepts the continuation.
            let second = try KafkaProducer(client: admin, state: saved)
            #expect(try await second.send(topic: "resume", key: nil, value: bytes("b0")) == (0, 5))
            #expect(await second.exportState().producerId == saved.producerId)
            await second.close()

            // A sequence gap: OUT_OF_ORDER_SEQUENCE_NUMBER on a batch that never reached the log.
            // The producer takes a new id and sends it once, under that id.
            var gap = saved
            gap.nextSequences[.init("resume", 0)] = 1000
            let third = try KafkaProducer(client: admin, state: gap)
            #expect(try await third.send(topic: "resume", key: nil, value: bytes("c0")) == (0, 6))
            let after = await third.exportState()
            #expect(after.producerId != saved.producerId)
            #expect(after.nextSequence(for: .init("resume", 0)) == 1)
            await third.close()

            let records = try await admin.fetch(topic: "resume", partition: 0, offset: 0)
            #expect(records.map { String(decoding: $0.value ?? [], as: UTF8.self) } == ["a0", "a1", "a2", "a3", "a4", "b0", "c0"])
        }
    }

    @Test func aRetryAfterALostResponseIsDeduplicated() async throws {
        try await InProcessBroker.run { broker in
            let admin = client(broker.address)
            defer { Task { await admin.shutdown() } }
            try await admin.createTopic("lossy", partitions: 1)
            let proxy = try await DroppingProxy(targetPort: broker.port)
            let viaProxy = KafkaClient(configuration: KafkaClientConfiguration(
                bootstrapServers: [KafkaBrokerAddress(host: "127.0.0.1", port: proxy.port)],
                reconnectBackoff: KafkaBackoff(initial: .milliseconds(20), maximum: .milliseconds(200))))
            let producer = try KafkaProducer(client: viaProxy)
            #expect(try await producer.send(topic: "lossy", key: nil, value: bytes("first")) == (0, 0))

            // The broker appends this batch but its answer is lost; the producer re-sends the same
            // batch (same producer id and sequence) on a new connection and gets the original offset.
            proxy.loseNextProduceResponse()
            let deliveries = try await withThrowingTaskGroup(of: KafkaProducer.Delivery.self) { group in
                for index in 0..<20 {
                    group.addTask { try await producer.send(topic: "lossy", key: nil, value: self.bytes("second \(index)")) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(proxy.droppedResponses == 1)
            #expect(Set(deliveries.map(\.offset)) == Set(1...20))
            await producer.close()
            await viaProxy.shutdown()
            await proxy.close()

            let records = try await admin.fetch(topic: "lossy", partition: 0, offset: 0)
            #expect(records.count == 21)
            #expect(try await admin.listOffsets(topic: "lossy", partitions: [0], spec: .latest)[0]?.offset == 21)
        }
    }

    @Test(.enabled(if: toolExists("kcat") && toolExists("python3")))
    func kcatAndKafkaPythonAgreeOnKeyedPartitions() async throws {
        try await InProcessBroker.run { broker in
            let admin = client(broker.address)
            defer { Task { await admin.shutdown() } }
            try await admin.createTopic("agree", partitions: 7)
            try await admin.createTopic("agree-kcat", partitions: 7)
            let keys = (0..<300).map { "payment-order-\($0 * 7919)" } + ["21", "foobar", "zé€", "a"]

            // Our producer places the keys; kcat reads back where they landed.
            let producer = try KafkaProducer(client: admin)
            var placed: [String: Int32] = [:]
            for key in keys { placed[key] = try await producer.send(topic: "agree", key: bytes(key), value: bytes("v")).partition }
            await producer.close()
            let consumed = try await runTool("kcat", ["-b", broker.bootstrap, "-C", "-t", "agree", "-o", "beginning", "-e", "-q", "-f", "%k %p\n"])
            var seen: [String: Int32] = [:]
            for line in consumed.split(separator: "\n") {
                let parts = line.split(separator: " ")
                seen[String(parts[0])] = Int32(parts[1])
            }
            #expect(seen == placed)

            // kafka-python's port of Java's partitioner agrees.
            let script = "import sys\nfrom kafka.partitioner.default import murmur2\nfor k in sys.argv[1:]: print(k, (murmur2(k.encode()) & 0x7fffffff) % 7)"
            let python = try await runTool("python3", ["-c", script] + keys)
            for line in python.split(separator: "\n") {
                let parts = line.split(separator: " ")
                #expect(placed[String(parts[0])] == Int32(parts[1]), "key \(parts[0])")
            }

            // And librdkafka's Java-compatible partitioner puts keys where ours says.
            _ = try await runTool("kcat", ["-b", broker.bootstrap, "-P", "-t", "agree-kcat", "-K:", "-X", "topic.partitioner=murmur2_random"],
                            input: keys.map { "\($0):v" }.joined(separator: "\n") + "\n")
            var checked = 0
            for partition in Int32(0)..<7 {
                for record in try await admin.fetch(topic: "agree-kcat", partition: partition, offset: 0) {
                    let key = record.key ?? []
                    #expect(KafkaPartitioner.partition(forKey: key, partitionCount: 7) == partition, "key \(String(decoding: key, as: UTF8.self))")
                    checked += 1
                }
            }
            #expect(checked == keys.count)
        }
    }
}
