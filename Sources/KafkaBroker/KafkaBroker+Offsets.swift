import LogStore
import Protocol

/// OffsetCommit (checked against the group's generation) and OffsetFetch.
extension KafkaBroker {
    /// Kafka's offset.metadata.max.bytes default.
    static let maximumOffsetMetadataBytes = 4096

    func offsetCommit(_ request: OffsetCommitRequest) async -> OffsetCommitResponse {
        func everyPartition(_ code: KafkaErrorCode) -> OffsetCommitResponse {
            countRequest(.offsetCommit, error: code)
            return OffsetCommitResponse(topics: request.topics.map { topic in
                .init(name: topic.name, partitions: topic.partitions.map { .init(partitionIndex: $0.partitionIndex, errorCode: code.rawValue) })
            })
        }
        guard !request.groupId.isEmpty else { return everyPartition(.invalidGroupId) }
        // Members commit only within their current generation; outsiders only to empty groups.
        let membership = coordinator.validateOffsetCommit(groupId: request.groupId, memberId: request.memberId,
                                                          generationId: request.generationId)
        guard membership == .none else { return everyPartition(membership) }
        let group = request.groupId
        let topics = request.topics
        do {
            let results: [[Int16]] = try await store.write { transaction in
                try topics.map { topic in
                    try topic.partitions.map { partition -> Int16 in
                        if (partition.committedMetadata?.utf8.count ?? 0) > Self.maximumOffsetMetadataBytes {
                            return KafkaErrorCode.offsetMetadataTooLarge.rawValue
                        }
                        do {
                            try transaction.commitOffset(group: group, topic: topic.name, partition: partition.partitionIndex,
                                                         offset: partition.committedOffset, metadata: partition.committedMetadata,
                                                         leaderEpoch: partition.committedLeaderEpoch)
                            return 0
                        } catch let error as LogStoreError where error.code == .unknownTopicOrPartition || error.code == .invalidArgument
                                    || error.code == .offsetOutOfRange {
                            // Refused before anything was written, so the others go on.
                            return error.kafkaErrorCode.rawValue
                        }
                    }
                }
            }
            countRequest(.offsetCommit, error: .none)
            return OffsetCommitResponse(topics: zip(topics, results).map { topic, codes in
                .init(name: topic.name, partitions: zip(topic.partitions, codes).map { .init(partitionIndex: $0.partitionIndex, errorCode: $1) })
            })
        } catch {
            return everyPartition(kafkaErrorCode(for: error))
        }
    }

    func offsetFetch(_ request: OffsetFetchRequest) -> OffsetFetchResponse {
        do {
            let topics: [OffsetFetchResponse.Topic] = try store.read { transaction in
                let committed = try transaction.committedOffsets(group: request.groupId)
                let wanted: [(String, [Int32])]
                if let topics = request.topics {
                    wanted = topics.map { ($0.name, $0.partitionIndexes) }
                } else {
                    let grouped = Dictionary(grouping: committed.keys, by: \.topic)
                    wanted = grouped.keys.sorted().map { topic in (topic, grouped[topic]!.map(\.partition).sorted()) }
                }
                return wanted.map { topic, partitions in
                    .init(name: topic, partitions: partitions.map { partition in
                        let offset = committed[TopicPartition(topic, partition)]
                        return .init(partitionIndex: partition, committedOffset: offset?.offset ?? -1,
                                     committedLeaderEpoch: offset?.leaderEpoch ?? -1,
                                     metadata: offset?.metadata ?? "", errorCode: 0)
                    })
                }
            }
            countRequest(.offsetFetch, error: .none)
            return OffsetFetchResponse(topics: topics, errorCode: 0)
        } catch {
            let code = kafkaErrorCode(for: error)
            countRequest(.offsetFetch, error: code)
            return OffsetFetchResponse(topics: [], errorCode: code.rawValue)
        }
    }

    /// OffsetFetch: the partitions of topics the principal may not describe carry
    /// TOPIC_AUTHORIZATION_FAILED instead of their offsets.
    func authorizeOffsetFetch(_ response: OffsetFetchResponse, session: KafkaSession) -> OffsetFetchResponse {
        var response = response
        response.topics = response.topics.map { topic in
            guard !access.authorize(session, .describe, .topic(topic.name)) else { return topic }
            return .init(name: topic.name, partitions: topic.partitions.map {
                .init(partitionIndex: $0.partitionIndex, committedOffset: -1, metadata: "", errorCode: Self.topicDenied)
            })
        }
        return response
    }
}
