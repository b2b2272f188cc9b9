import LogStore
import Protocol

/// DeleteGroups and OffsetDelete: what `kafka-consumer-groups.sh --delete` and
/// `--delete-offsets` call. The coordinator decides (GroupDeletion) and writes; here are the
/// ACL checks and the per-request limits, as Kafka's KafkaApis applies them.
extension KafkaBroker {
    /// DELETE on each group. A group named twice is answered once (the response is keyed by
    /// group id), and no more groups than a Metadata request may name topics are looked at.
    func deleteGroups(_ request: DeleteGroupsRequest, session: KafkaSession) async -> DeleteGroupsResponse {
        var seen = Set<String>()
        let names = request.groupsNames.filter { seen.insert($0).inserted }
        let limit = requestLimits.maximumTopicsPerRequest
        var results: [DeleteGroupsResponse.Result] = []
        for (index, groupId) in names.enumerated() {
            func answer(_ code: KafkaErrorCode) { results.append(.init(groupId: groupId, errorCode: code.rawValue)) }
            guard index < limit else {
                answer(.invalidRequest)
                continue
            }
            guard authorized(session, .delete, .group(groupId)) else {
                answer(.groupAuthorizationFailed)
                continue
            }
            do {
                answer(try await coordinator.deleteGroup(groupId))
            } catch {
                answer(kafkaErrorCode(for: error))
            }
        }
        countRequest(.deleteGroups, error: firstError(results.map(\.errorCode)))
        return DeleteGroupsResponse(results: results)
    }

    /// DELETE on the group (else the whole request is refused), READ on each topic; partitions
    /// of topics that do not exist answer UNKNOWN_TOPIC_OR_PARTITION.
    func offsetDelete(_ request: OffsetDeleteRequest, session: KafkaSession) async -> OffsetDeleteResponse {
        func everyPartition(_ code: KafkaErrorCode, topLevel: KafkaErrorCode) -> OffsetDeleteResponse {
            countRequest(.offsetDelete, error: topLevel == .none ? code : topLevel)
            return OffsetDeleteResponse(errorCode: topLevel.rawValue, topics: request.topics.map { topic in
                .init(name: topic.name, partitions: topic.partitions.map { .init(partitionIndex: $0, errorCode: code.rawValue) })
            })
        }
        let partitionCount = request.topics.reduce(0) { $0 &+ $1.partitions.count }
        if let message = requestLimits.refusePartitions(partitionCount, api: "OffsetDelete") {
            rejections.warning(key: "request-limit-offset-delete", "refused an oversized request", metadata: ["reason": "\(message)"])
            return everyPartition(.invalidRequest, topLevel: .invalidRequest)
        }
        guard authorized(session, .delete, .group(request.groupId)) else {
            return everyPartition(.none, topLevel: .groupAuthorizationFailed)
        }
        // Each partition's own answer where it cannot be deleted; nil for those that go ahead.
        var refusals: [[KafkaErrorCode?]] = []
        var deletable: [TopicPartition] = []
        for topic in request.topics {
            guard authorized(session, .read, .topic(topic.name)) else {
                refusals.append(topic.partitions.map { _ in .topicAuthorizationFailed })
                continue
            }
            let partitionCount = (try? store.describe(topic: topic.name))?.partitions.count ?? 0
            refusals.append(topic.partitions.map { partition in
                guard partition >= 0, Int(partition) < partitionCount else { return .unknownTopicOrPartition }
                deletable.append(TopicPartition(topic.name, partition))
                return nil
            })
        }
        let verdict: GroupDeletion.OffsetVerdict
        do {
            verdict = try await coordinator.deleteOffsets(groupId: request.groupId, partitions: deletable)
        } catch {
            return everyPartition(.none, topLevel: kafkaErrorCode(for: error))
        }
        switch verdict {
        case .refuse(let code):
            return everyPartition(.none, topLevel: code)
        case .delete(let keep):
            countRequest(.offsetDelete, error: .none)
            return OffsetDeleteResponse(topics: zip(request.topics, refusals).map { topic, codes in
                .init(name: topic.name, partitions: zip(topic.partitions, codes).map { partition, refusal in
                    let code = refusal ?? (keep.contains(topic.name) ? .groupSubscribedToTopic : .none)
                    return .init(partitionIndex: partition, errorCode: code.rawValue)
                })
            })
        }
    }
}
