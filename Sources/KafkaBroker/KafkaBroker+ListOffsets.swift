import LogStore
import Protocol

extension KafkaBroker {
    /// Kafka's special timestamps: -2 the log start, -1 the high watermark; any other value
    /// finds the first record whose own (CreateTime) timestamp is at least it.
    static let earliestTimestamp: Int64 = -2
    static let latestTimestamp: Int64 = -1

    func listOffsets(_ request: ListOffsetsRequest) -> ListOffsetsResponse {
        var worst = KafkaErrorCode.none
        let topics = request.topics.map { topic in
            ListOffsetsResponse.ListOffsetsTopicResponse(name: topic.name, partitions: topic.partitions.map { partition in
                do {
                    return try store.read { transaction -> ListOffsetsResponse.ListOffsetsPartitionResponse in
                        guard let description = try transaction.describe(topic: topic.name),
                              let offsets = description.partitions.first(where: { $0.partition == partition.partitionIndex }) else {
                            throw LogStoreError(.unknownTopicOrPartition, "\(topic.name)-\(partition.partitionIndex) does not exist")
                        }
                        switch partition.timestamp {
                        case Self.earliestTimestamp:
                            return .init(partitionIndex: partition.partitionIndex, errorCode: 0, timestamp: -1,
                                         offset: offsets.logStartOffset, leaderEpoch: Self.leaderEpoch)
                        case Self.latestTimestamp:
                            return .init(partitionIndex: partition.partitionIndex, errorCode: 0, timestamp: -1,
                                         offset: offsets.highWatermark, leaderEpoch: Self.leaderEpoch)
                        default:
                            let found = try transaction.offset(topic: topic.name, partition: partition.partitionIndex,
                                                               forTimestamp: partition.timestamp)
                            return .init(partitionIndex: partition.partitionIndex, errorCode: 0, timestamp: found?.timestamp ?? -1,
                                         offset: found?.offset ?? -1, leaderEpoch: found == nil ? -1 : Self.leaderEpoch)
                        }
                    }
                } catch {
                    let code = kafkaErrorCode(for: error)
                    worst = code
                    return .init(partitionIndex: partition.partitionIndex, errorCode: code.rawValue)
                }
            })
        }
        countRequest(.listOffsets, error: worst)
        return ListOffsetsResponse(topics: topics)
    }
}
