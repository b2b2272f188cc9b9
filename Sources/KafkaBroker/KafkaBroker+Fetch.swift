import LogStore
import NIOCore
import Protocol

extension KafkaBroker {
    /// Whole batches from the batch containing each fetch offset. The first partition with data
    /// returns at least one batch even past the limits (KIP-74); later ones only what still fits.
    /// With max_wait_ms it long-polls until min_bytes are there or the wait is over.
    /// A partition named twice is answered once, and the request's byte limit is capped by the
    /// broker's `maximumFetchBytes` (Kafka's fetch.max.bytes), so no request can ask for a
    /// response bigger than the node is willing to build.
    func fetch(_ fetchRequest: FetchRequest) async -> FetchResponse {
        let request = Self.distinctPartitions(fetchRequest)
        let deadline = ContinuousClock.now + .milliseconds(max(0, Int(request.maxWaitMs)))
        let brokerLimit = configuration.maximumFetchBytes
        let maximumBytes = request.maxBytes <= 0 ? brokerLimit : min(Int(request.maxBytes), brokerLimit)
        while true {
            var totalBytes = 0
            var watermarks: [TopicPartition: Int64] = [:]
            var worst = KafkaErrorCode.none
            let responses = request.topics.map { topic in
                FetchResponse.FetchableTopicResponse(topic: topic.topic, partitions: topic.partitions.map { partition in
                    let data = fetchPartition(topic: topic.topic, partition, remaining: maximumBytes - totalBytes, isFirst: totalBytes == 0)
                    totalBytes += data.records?.readableBytes ?? 0
                    if data.errorCode == 0 {
                        watermarks[TopicPartition(topic.topic, partition.partition)] = data.highWatermark
                    } else {
                        worst = KafkaErrorCode(rawValue: data.errorCode) ?? .unknownServerError
                    }
                    return data
                })
            }
            if totalBytes >= max(Int(request.minBytes), 1) || worst != .none || ContinuousClock.now >= deadline || Task.isCancelled
                || isShuttingDown {
                countRequest(.fetch, error: worst)
                return FetchResponse(responses: responses)
            }
            await store.waitForAppend(after: watermarks, until: deadline)
        }
    }

    /// The request with each topic named once and each of its partitions once (the first mention
    /// wins), in the order they first appear.
    static func distinctPartitions(_ request: FetchRequest) -> FetchRequest {
        var seen = Set<TopicPartition>()
        var topicIndexes: [String: Int] = [:]
        var topics: [FetchRequest.FetchTopic] = []
        for topic in request.topics {
            for partition in topic.partitions where seen.insert(TopicPartition(topic.topic, partition.partition)).inserted {
                if let index = topicIndexes[topic.topic] {
                    topics[index].partitions.append(partition)
                } else {
                    topicIndexes[topic.topic] = topics.count
                    topics.append(.init(topic: topic.topic, partitions: [partition]))
                }
            }
        }
        var distinct = request
        distinct.topics = topics
        return distinct
    }

    private func fetchPartition(topic: String, _ partition: FetchRequest.FetchPartition, remaining: Int, isFirst: Bool) -> FetchResponse.PartitionData {
        func failure(_ error: any Error) -> FetchResponse.PartitionData {
            let code = kafkaErrorCode(for: error)
            let offsets = try? store.describe(topic: topic)?.partitions.first { $0.partition == partition.partition }
            return .init(partitionIndex: partition.partition, errorCode: code.rawValue,
                         highWatermark: offsets?.highWatermark ?? -1, lastStableOffset: offsets?.highWatermark ?? -1,
                         logStartOffset: offsets?.logStartOffset ?? -1, abortedTransactions: [], preferredReadReplica: -1,
                         records: ByteBuffer())
        }
        let limit = max(0, min(Int(partition.partitionMaxBytes), remaining))
        do {
            var result = try store.read { try $0.fetch(topic: topic, partition: partition.partition, offset: partition.fetchOffset,
                                                       maxBytes: max(limit, 1)) }
            if !isFirst, result.records.readableBytes > limit {
                // Past the request's byte budget: this partition waits for the next fetch.
                result.records = ByteBuffer()
            }
            return .init(partitionIndex: partition.partition, errorCode: 0, highWatermark: result.highWatermark,
                         lastStableOffset: result.highWatermark, logStartOffset: result.logStartOffset,
                         abortedTransactions: [], preferredReadReplica: -1, records: result.records)
        } catch {
            return failure(error)
        }
    }
}
