import NIOCore
import Protocol

extension KafkaClient {
    /// Records of one partition from `offset` on (records before it, which the broker sends
    /// when the offset falls inside a batch, are skipped). `maxWait` makes the broker wait for
    /// data up to that long; an empty array means nothing arrived in time.
    public func fetch(topic: String, partition: Int32, offset: Int64, maxBytes: Int32 = 1 << 20,
                      maxWait: Duration = .zero) async throws -> [Record] {
        try await fetchPartition(topic: topic, partition: partition, offset: offset, maxBytes: maxBytes, maxWait: maxWait).records
    }

    /// Like `fetch`, with the partition's high watermark and log start offset.
    public func fetchPartition(topic: String, partition: Int32, offset: Int64, maxBytes: Int32 = 1 << 20,
                               maxWait: Duration = .zero) async throws -> KafkaFetchResult {
        let key = KafkaTopicPartition(topic, partition)
        let results = try await fetch([key: offset], maxBytesPerPartition: maxBytes, maxWait: maxWait)
        guard let result = results[key] else {
            throw KafkaClientError(.protocolViolation, "Fetch answer lacks the partition", broker: brokerName,
                                   topic: topic, partition: partition)
        }
        return result
    }

    /// One Fetch request for several partitions, each from its own offset. The broker answers
    /// once any partition has data or `maxWait` is over. A partition error (e.g.
    /// OFFSET_OUT_OF_RANGE) fails the whole call, naming the partition.
    public func fetch(_ positions: [KafkaTopicPartition: Int64], maxBytesPerPartition: Int32 = 1 << 20,
                      maxBytes: Int32 = 50 << 20, maxWait: Duration = .zero) async throws -> [KafkaTopicPartition: KafkaFetchResult] {
        guard !positions.isEmpty else { return [:] }
        let byTopic = Dictionary(grouping: positions.keys, by: \.topic)
        let request = FetchRequest(maxWaitMs: maxWait.kafkaMilliseconds, minBytes: 1, maxBytes: maxBytes,
                                   topics: byTopic.keys.sorted().map { topic in
            .init(topic: topic, partitions: byTopic[topic]!.sorted().map {
                .init(partition: $0.partition, fetchOffset: positions[$0]!, partitionMaxBytes: maxBytesPerPartition)
            })
        })
        let timeout = configuration.connection.requestTimeout + maxWait
        return try await retrying("Fetch") {
            let response = try await self.request(request, timeout: timeout)
            guard response.errorCode == 0 else {
                throw KafkaClientError.broker(response.errorCode, "Fetch failed", broker: brokerName)
            }
            var results: [KafkaTopicPartition: KafkaFetchResult] = [:]
            for topic in response.responses {
                for data in topic.partitions {
                    let key = KafkaTopicPartition(topic.topic, data.partitionIndex)
                    guard let offset = positions[key] else { continue }
                    guard data.errorCode == 0 else {
                        throw KafkaClientError.broker(data.errorCode, "Fetch from offset \(offset) failed (log start \(data.logStartOffset), high watermark \(data.highWatermark))",
                                                      broker: brokerName, topic: key.topic, partition: key.partition)
                    }
                    let records = try Self.decodeRecords(data.records ?? ByteBuffer(), from: offset, partition: key, broker: brokerName)
                    results[key] = KafkaFetchResult(topicPartition: key, records: records, highWatermark: data.highWatermark,
                                                    logStartOffset: data.logStartOffset)
                }
            }
            return results
        }
    }

    /// Decodes the whole batches of a Fetch `records` field (a truncated last batch is
    /// ignored, as Kafka clients do), checks their CRC-32C, skips control batches and drops
    /// records below `offset`.
    static func decodeRecords(_ bytes: ByteBuffer, from offset: Int64, partition: KafkaTopicPartition,
                              broker: String) throws(KafkaClientError) -> [Record] {
        func corrupt(_ message: String) -> KafkaClientError {
            KafkaClientError(.corruptRecord, message, broker: broker, topic: partition.topic, partition: partition.partition)
        }
        let batches: [ByteBuffer]
        do {
            batches = try RecordBatch.split(bytes).batches
        } catch {
            throw corrupt("cannot split the fetched records: \(error)")
        }
        var records: [Record] = []
        for batch in batches {
            do {
                let header = try RecordBatch.peekHeader(batch)
                if header.isControl || header.lastOffset < offset { continue }
                guard RecordBatch.verifyChecksum(batch) else {
                    throw RecordBatchError(.corruptChecksum, "batch at offset \(header.baseOffset) fails its CRC-32C")
                }
                for record in try RecordBatch.decodeRecords(batch) where record.offset >= offset {
                    records.append(record)
                }
            } catch {
                throw corrupt("\(error)")
            }
        }
        return records
    }
}
