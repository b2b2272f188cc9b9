import NIOCore
import Protocol

extension KafkaClient {
    /// Records of one partition from `offset` on (records before it, which the broker sends
    /// when the offset falls inside a batch, are skipped). `maxWait` makes the broker wait for
    /// data up to that long; an empty array means nothing arrived in time. Throws
    /// `.corruptRecord` when the first batch from `offset` cannot be decoded (records before
    /// an undecodable batch are returned first; `fetchPartition` tells the batch's offsets).
    public func fetch(topic: String, partition: Int32, offset: Int64, maxBytes: Int32 = 1 << 20,
                      maxWait: Duration = .zero) async throws -> [Record] {
        let result = try await fetchPartition(topic: topic, partition: partition, offset: offset, maxBytes: maxBytes, maxWait: maxWait)
        if result.records.isEmpty, let undecodable = result.undecodable {
            throw KafkaClientError(.corruptRecord, "offsets \(undecodable.firstOffset)...\(undecodable.lastOffset): \(undecodable.reason)",
                                   broker: brokerName, topic: topic, partition: partition)
        }
        return result.records
    }

    /// Like `fetch`, with the partition's high watermark, log start offset and undecodable batch.
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
    /// OFFSET_OUT_OF_RANGE) fails the whole call, naming the partition (`fetchEach` answers
    /// it for that partition alone). A batch that cannot be decoded fails nothing: it is its
    /// partition's `undecodable`, next to every other partition's records.
    public func fetch(_ positions: [KafkaTopicPartition: Int64], maxBytesPerPartition: Int32 = 1 << 20,
                      maxBytes: Int32 = 50 << 20, maxWait: Duration = .zero) async throws -> [KafkaTopicPartition: KafkaFetchResult] {
        let each = try await fetchEach(positions, maxBytesPerPartition: maxBytesPerPartition, maxBytes: maxBytes, maxWait: maxWait)
        return try each.mapValues { try $0.get() }
    }

    /// Like `fetch`, each partition with its own outcome: the broker's error for a partition
    /// (a storage error, an offset out of range) fails that partition only, so that a
    /// consumer of many partitions goes on with the others. Throws only when the request as a
    /// whole fails (after the client's retries) or the answer lacks a requested partition.
    public func fetchEach(_ positions: [KafkaTopicPartition: Int64], maxBytesPerPartition: Int32 = 1 << 20,
                          maxBytes: Int32 = 50 << 20,
                          maxWait: Duration = .zero) async throws -> [KafkaTopicPartition: Result<KafkaFetchResult, KafkaClientError>] {
        guard !positions.isEmpty else { return [:] }
        let byTopic = Dictionary(grouping: positions.keys, by: \.topic)
        let request = FetchRequest(maxWaitMs: maxWait.kafkaMilliseconds, minBytes: 1, maxBytes: maxBytes,
                                   topics: byTopic.keys.sorted().map { topic in
            .init(topic: topic, partitions: (byTopic[topic] ?? []).sorted().map {
                .init(partition: $0.partition, fetchOffset: positions[$0] ?? 0, partitionMaxBytes: maxBytesPerPartition)
            })
        })
        let timeout = configuration.connection.requestTimeout + maxWait
        return try await retrying("Fetch") {
            let response = try await self.request(request, timeout: timeout)
            guard response.errorCode == 0 else {
                throw KafkaClientError.broker(response.errorCode, "Fetch failed", broker: brokerName)
            }
            var results: [KafkaTopicPartition: Result<KafkaFetchResult, KafkaClientError>] = [:]
            for topic in response.responses {
                for data in topic.partitions {
                    let key = KafkaTopicPartition(topic.topic, data.partitionIndex)
                    guard let offset = positions[key] else { continue }
                    guard data.errorCode == 0 else {
                        results[key] = .failure(.broker(data.errorCode, "Fetch from offset \(offset) failed (log start \(data.logStartOffset), high watermark \(data.highWatermark))",
                                                        broker: brokerName, topic: key.topic, partition: key.partition))
                        continue
                    }
                    let decoded = Self.decodePartition(data.records ?? ByteBuffer(), from: offset, highWatermark: data.highWatermark)
                    results[key] = .success(KafkaFetchResult(topicPartition: key, records: decoded.records, highWatermark: data.highWatermark,
                                                             logStartOffset: data.logStartOffset, undecodable: decoded.undecodable))
                }
            }
            for key in positions.keys where results[key] == nil {
                throw KafkaClientError(.protocolViolation, "Fetch answer lacks the partition", broker: brokerName,
                                       topic: key.topic, partition: key.partition)
            }
            return results
        }
    }

    /// Decodes the whole batches of a Fetch `records` field from `offset` on: each batch once,
    /// with every check a consumer needs (`ConsumedBatch`). Control batches and records below
    /// `offset` are skipped; a truncated last batch is ignored, as Kafka clients do (the broker
    /// cut it at the byte limit) unless it is the first one, which brokers always send whole.
    /// Decoding stops at the first batch that fails, answered as `undecodable`: records after
    /// it would leave a gap the consumer could not dead-letter in order.
    ///
    /// The undecodable range starts where the consumer stands (`offset`, or after the last good
    /// batch) and ends at the batch header's baseOffset + lastOffsetDelta: the broker assigns
    /// both when it appends the batch, so they hold whatever the records are. When the header
    /// cannot be read or names no offset at or after the start, or one at or past the high
    /// watermark, the range is the start offset alone: the next fetch from the offset after it
    /// returns the same stored batch, judged again, so a wrong header costs round trips but
    /// never skips an offset without a dead letter, nor moves the position past the high
    /// watermark.
    public static func decodePartition(_ bytes: ByteBuffer, from offset: Int64,
                                       highWatermark: Int64) -> (records: [Record], undecodable: KafkaUndecodableBatch?) {
        var records: [Record] = []
        var expected = offset
        var position = bytes.readerIndex
        let end = bytes.writerIndex
        func poison(_ reason: String, at start: Int, length: Int) -> KafkaUndecodableBatch {
            let slice = bytes.getSlice(at: start, length: length) ?? ByteBuffer()
            var last = expected
            if let header = RecordBatch.headerFields(slice), header.lastOffsetDelta >= 0 {
                let (claimed, overflow) = header.baseOffset.addingReportingOverflow(Int64(header.lastOffsetDelta))
                if !overflow, claimed >= expected, claimed < highWatermark { last = claimed }
            }
            return KafkaUndecodableBatch(firstOffset: expected, lastOffset: last, reason: reason, bytes: slice)
        }
        while position < end {
            let remaining = end - position
            let isFirst = position == bytes.readerIndex
            guard remaining >= RecordBatchHeader.size,
                  let batchLength = bytes.getInteger(at: position + 8, as: Int32.self) else {
                if isFirst { return (records, poison("\(remaining) bytes cannot hold a batch header", at: position, length: remaining)) }
                break
            }
            let totalSize = Int(batchLength) + 12
            guard batchLength >= Int32(RecordBatchHeader.size - 12) else {
                return (records, poison("batchLength \(batchLength) is below the minimum: the rest cannot be framed", at: position, length: remaining))
            }
            guard totalSize <= remaining, let batch = bytes.getSlice(at: position, length: totalSize) else {
                if isFirst {
                    return (records, poison("batchLength \(batchLength) exceeds the \(remaining) bytes sent", at: position, length: remaining))
                }
                break
            }
            position += totalSize
            if let header = RecordBatch.headerFields(batch), header.baseOffset &+ Int64(max(0, header.lastOffsetDelta)) < expected,
               header.lastOffsetDelta >= 0 {
                continue  // wholly before the requested offset (the broker sends the batch holding it)
            }
            switch ConsumedBatch.decode(batch, from: expected) {
            case .failure(let why):
                return (records, poison(why.message, at: position - totalSize, length: totalSize))
            case .success(let decoded):
                records += decoded
                if let header = RecordBatch.headerFields(batch) { expected = max(expected, header.baseOffset &+ Int64(header.lastOffsetDelta) &+ 1) }
            }
        }
        return (records, nil)
    }
}
