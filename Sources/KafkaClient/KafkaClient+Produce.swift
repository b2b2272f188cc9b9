import NIOCore
import Protocol

/// The idempotent-producer fields a record batch is written with.
public struct KafkaProducerFields: Sendable, Hashable, Codable {
    public var producerId: Int64
    public var producerEpoch: Int16
    public var baseSequence: Int32

    public init(producerId: Int64, producerEpoch: Int16, baseSequence: Int32) {
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.baseSequence = baseSequence
    }
}

extension KafkaClient {
    /// One Produce request carrying already-encoded batches (at most one per partition), sent
    /// once. Answers each partition's outcome: its base offset, or the broker's error. A
    /// duplicate of one of the last five batches of an idempotent producer succeeds with the
    /// ORIGINAL base offset. nil when `acks` is 0 (no response exists). Throws when the request
    /// as a whole got no answer (then it may or may not have been processed).
    func produceEncoded(_ batches: [(partition: KafkaTopicPartition, encoded: ByteBuffer)], acks: Int16,
                        timeout: Duration) async throws -> [KafkaTopicPartition: Result<Int64, KafkaClientError>]? {
        let byTopic = Dictionary(grouping: batches, by: \.partition.topic)
        let request = ProduceRequest(acks: acks, timeoutMs: timeout.kafkaMilliseconds, topicData: byTopic.keys.sorted().map { topic in
            .init(name: topic, partitionData: byTopic[topic]!.map { .init(index: $0.partition.partition, records: $0.encoded) })
        })
        // The broker gets the request timeout for acks; allow the network a little more.
        guard let response = try await send(request, timeout: timeout + .seconds(5)) else { return nil }
        var outcomes: [KafkaTopicPartition: Result<Int64, KafkaClientError>] = [:]
        for (partition, _) in batches {
            let answer = response.responses.first { $0.name == partition.topic }?
                .partitionResponses.first { $0.index == partition.partition }
            guard let answer else {
                outcomes[partition] = .failure(KafkaClientError(.protocolViolation, "Produce answer lacks the partition",
                                                                broker: brokerName, topic: partition.topic, partition: partition.partition))
                continue
            }
            // DUPLICATE_SEQUENCE_NUMBER: an older broker's way of saying "already written".
            if answer.errorCode == 0 || answer.errorCode == KafkaErrorCode.duplicateSequenceNumber.rawValue {
                outcomes[partition] = .success(answer.baseOffset)
            } else {
                outcomes[partition] = .failure(.broker(answer.errorCode, answer.errorMessage ?? "Produce failed",
                                                       broker: brokerName, topic: partition.topic, partition: partition.partition))
            }
        }
        return outcomes
    }

    /// Writes `records` to `partition` as ONE record batch with exactly the given producer id,
    /// epoch and base sequence (acks=all), once, and returns the batch's base offset.
    ///
    /// This is the building block of a transactional outbox: a caller that persisted the
    /// sequence range before sending can re-send the very same batch after a crash or a lost
    /// answer, and the broker deduplicates it (answering the original offset) as long as it is
    /// one of the producer's last five batches on that partition. The caller owns the sequence
    /// numbering; errors such as OUT_OF_ORDER_SEQUENCE_NUMBER are thrown to it unchanged.
    public func produce(_ records: [Record], to partition: KafkaTopicPartition, producer: KafkaProducerFields,
                        compression: CompressionCodec = .none, timeout: Duration = .seconds(30)) async throws -> Int64 {
        let encoded: ByteBuffer
        do {
            encoded = try RecordBatch.encode(records: records, producerId: producer.producerId, producerEpoch: producer.producerEpoch,
                                             baseSequence: producer.baseSequence, compression: compression)
        } catch {
            throw KafkaClientError(.invalidArgument, "cannot encode the record batch: \(error)",
                                   topic: partition.topic, partition: partition.partition)
        }
        return try await produce(encodedBatch: encoded, to: partition, timeout: timeout)
    }

    /// Writes one already-encoded v2 record batch (its producer fields set by whoever encoded
    /// it, `RecordBatch.encode`) to `partition` with acks=all, once, and returns its base offset.
    /// For callers that keep batches encoded ahead of time (an outbox, a load generator).
    public func produce(encodedBatch encoded: ByteBuffer, to partition: KafkaTopicPartition,
                        timeout: Duration = .seconds(30)) async throws -> Int64 {
        let outcomes = try await produceEncoded([(partition, encoded)], acks: KafkaProducerConfiguration.Acks.all.rawValue,
                                                timeout: timeout)
        guard let outcome = outcomes?[partition] else {
            throw KafkaClientError(.protocolViolation, "Produce with acks=all got no answer", broker: brokerName,
                                   topic: partition.topic, partition: partition.partition)
        }
        return try outcome.get()
    }
}
