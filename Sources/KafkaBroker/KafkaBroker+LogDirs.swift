import LogStore
import Protocol

/// OffsetForLeaderEpoch and DescribeLogDirs. paynode is one broker whose every partition has
/// been led by node 0 in leader epoch 0 since it was created, so an epoch's end is the log's
/// end, and there is one log directory: the data directory.
extension KafkaBroker {
    /// DESCRIBE on each topic. Epoch 0 (or any below it that a client names after a reset) ends
    /// at the high watermark; an epoch this node has never had is unknown (-1, -1) as in Kafka;
    /// a client that believes in a later current epoch gets UNKNOWN_LEADER_EPOCH.
    func offsetForLeaderEpoch(_ request: OffsetForLeaderEpochRequest, session: KafkaSession) -> OffsetForLeaderEpochResponse {
        let partitionCount = request.topics.reduce(0) { $0 &+ $1.partitions.count }
        if let message = requestLimits.refusePartitions(partitionCount, api: "OffsetForLeaderEpoch") {
            rejections.warning(key: "request-limit-offset-for-leader-epoch", "refused an oversized request", metadata: ["reason": "\(message)"])
            countRequest(.offsetForLeaderEpoch, error: .invalidRequest)
            return OffsetForLeaderEpochResponse(topics: request.topics.map { topic in
                .init(topic: topic.topic, partitions: topic.partitions.map {
                    .init(errorCode: KafkaErrorCode.invalidRequest.rawValue, partition: $0.partition)
                })
            })
        }
        var worst = KafkaErrorCode.none
        let topics = request.topics.map { topic in
            func answer(_ code: KafkaErrorCode) -> OffsetForLeaderEpochResponse.Topic {
                worst = code
                return .init(topic: topic.topic, partitions: topic.partitions.map { .init(errorCode: code.rawValue, partition: $0.partition) })
            }
            guard authorized(session, .describe, .topic(topic.topic)) else { return answer(.topicAuthorizationFailed) }
            guard let description = try? store.describe(topic: topic.topic) else { return answer(.unknownTopicOrPartition) }
            return .init(topic: topic.topic, partitions: topic.partitions.map { partition in
                guard partition.partition >= 0, Int(partition.partition) < description.partitionCount else {
                    worst = .unknownTopicOrPartition
                    return .init(errorCode: KafkaErrorCode.unknownTopicOrPartition.rawValue, partition: partition.partition)
                }
                guard partition.currentLeaderEpoch <= Self.leaderEpoch else {
                    worst = .unknownLeaderEpoch
                    return .init(errorCode: KafkaErrorCode.unknownLeaderEpoch.rawValue, partition: partition.partition)
                }
                guard partition.leaderEpoch >= 0, partition.leaderEpoch <= Self.leaderEpoch else {
                    return .init(partition: partition.partition)
                }
                return .init(partition: partition.partition, leaderEpoch: Self.leaderEpoch,
                             endOffset: description.partitions[Int(partition.partition)].highWatermark)
            })
        }
        countRequest(.offsetForLeaderEpoch, error: worst)
        return OffsetForLeaderEpochResponse(topics: topics)
    }

    /// The leader epoch of every partition (Metadata and Fetch say the same).
    static let leaderEpoch: Int32 = 0

    /// DESCRIBE on the cluster. One result, the data directory, with each partition's stored
    /// bytes; unknown topics and partitions are left out, as Kafka does.
    func describeLogDirs(_ request: DescribeLogDirsRequest, session: KafkaSession) -> DescribeLogDirsResponse {
        guard authorized(session, .describe, .cluster) else {
            countRequest(.describeLogDirs, error: .clusterAuthorizationFailed)
            return DescribeLogDirsResponse(errorCode: KafkaErrorCode.clusterAuthorizationFailed.rawValue, results: [])
        }
        var wanted: [(name: String, partitions: Set<Int32>?)]
        if let topics = request.topics {
            var order: [String] = []
            var partitions: [String: Set<Int32>] = [:]
            for topic in topics {
                if partitions[topic.topic] == nil { order.append(topic.topic) }
                partitions[topic.topic, default: []].formUnion(topic.partitions)
            }
            wanted = order.map { ($0, partitions[$0]) }
        } else {
            wanted = ((try? store.topics()) ?? []).map { ($0, nil) }
        }
        // Bounded like Metadata: a request cannot make the answer unboundedly large.
        wanted = Array(wanted.prefix(requestLimits.maximumTopicsPerRequest))
        let topics: [DescribeLogDirsResponse.Topic] = wanted.compactMap { topic in
            guard let description = try? store.describe(topic: topic.name) else { return nil }
            let partitions = description.partitions.filter { topic.partitions?.contains($0.partition) ?? true }
            guard !partitions.isEmpty else { return nil }
            return .init(name: topic.name, partitions: partitions.map { .init(partitionIndex: $0.partition, partitionSize: $0.sizeBytes) })
        }
        let disk = store.diskSpace
        countRequest(.describeLogDirs, error: .none)
        return DescribeLogDirsResponse(results: [
            .init(logDir: store.configuration.dataDirectory, topics: topics,
                  totalBytes: disk.map { Int64($0.totalBytes) } ?? -1, usableBytes: disk.map { Int64($0.availableBytes) } ?? -1),
        ])
    }
}
