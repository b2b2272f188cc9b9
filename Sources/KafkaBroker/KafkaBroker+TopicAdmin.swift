import LogStore
import Protocol

/// DeleteTopics, CreatePartitions and DeleteRecords: what `kafka-topics.sh --delete` and
/// `--alter --partitions`, `kafka-delete-records.sh` and the UIs' "delete topic" / "purge"
/// call. ACLs as Kafka's KafkaApis checks them (DELETE on the topic; ALTER for partitions);
/// the node's own topics are refused with POLICY_VIOLATION whatever the ACLs say.
extension KafkaBroker {
    func deleteTopics(_ request: DeleteTopicsRequest, session: KafkaSession) async -> DeleteTopicsResponse {
        let limit = requestLimits.maximumTopicsPerRequest
        var counts: [String: Int] = [:]
        for topic in request.topics { if let name = topic.name { counts[name, default: 0] += 1 } }
        var answered = Set<String>()
        var results: [DeleteTopicsResponse.Result] = []
        for (index, topic) in request.topics.enumerated() {
            func answer(_ code: KafkaErrorCode, _ message: String? = nil) {
                results.append(.init(name: topic.name, topicId: topic.topicId, errorCode: code.rawValue, errorMessage: message))
            }
            guard let name = topic.name else {
                // paynode names topics only by name: no id can be known.
                answer(topic.topicId.isZero ? .invalidRequest : .unknownTopicId,
                       topic.topicId.isZero ? "a topic needs a name or an id" : "unknown topic id \(topic.topicId)")
                continue
            }
            // The response is keyed by name: a topic named twice is answered once.
            guard answered.insert(name).inserted else { continue }
            guard index < limit else {
                answer(.invalidRequest, "the request names more than \(limit) topics")
                continue
            }
            guard counts[name, default: 0] == 1 else {
                answer(.invalidRequest, "topic \(name) is named more than once in the request")
                continue
            }
            guard topic.topicId.isZero else {
                answer(.invalidRequest, "give a topic's name or its id, not both")
                continue
            }
            guard authorized(session, .delete, .topic(name)) else {
                answer(.topicAuthorizationFailed, "\(session.principal) may not delete topic \(name)")
                continue
            }
            if let refusal = protectedTopicRefusal(name, action: "deleted") {
                answer(.policyViolation, refusal)
                continue
            }
            do {
                let deleted = try await store.write { try $0.deleteTopic(name) }
                if deleted {
                    answer(.none)
                } else {
                    answer(.unknownTopicOrPartition, "topic \(name) does not exist")
                }
            } catch {
                answer(kafkaErrorCode(for: error), "\(error)")
            }
        }
        countRequest(.deleteTopics, error: firstError(results.map(\.errorCode)))
        return DeleteTopicsResponse(responses: results)
    }

    /// Grows each topic to its new count in its own transaction (a topic's growth is all or
    /// nothing; topics are independent, as in Kafka). Per-topic and per-request limits as for
    /// CreateTopics, counted on the new totals.
    func createPartitions(_ request: CreatePartitionsRequest, session: KafkaSession) async -> CreatePartitionsResponse {
        let verdicts = requestLimits.createTopics(partitionCounts: request.topics.map { Int($0.count) })
        var counts: [String: Int] = [:]
        for topic in request.topics { counts[topic.name, default: 0] += 1 }
        let nodeId = configuration.nodeId
        var results: [CreatePartitionsResponse.Result] = []
        for (topic, verdict) in zip(request.topics, verdicts) {
            func answer(_ code: KafkaErrorCode, _ message: String? = nil) {
                results.append(.init(name: topic.name, errorCode: code.rawValue, errorMessage: message))
            }
            guard counts[topic.name, default: 0] == 1 else {
                answer(.invalidRequest, "topic \(topic.name) is named more than once in the request")
                continue
            }
            switch verdict {
            case .create:
                break
            case .tooManyForTopic(let message):
                answer(.invalidPartitions, message)
                continue
            case .overRequestBudget(let message):
                answer(.policyViolation, message)
                continue
            }
            guard authorized(session, .alter, .topic(topic.name)) else {
                answer(.topicAuthorizationFailed, "\(session.principal) may not alter topic \(topic.name)")
                continue
            }
            if let refusal = protectedTopicRefusal(topic.name, action: "given more partitions") {
                answer(.policyViolation, refusal)
                continue
            }
            do {
                let count = Int(topic.count)
                let validateOnly = request.validateOnly
                let assignments = topic.assignments
                try await store.write { transaction in
                    guard let current = try transaction.partitionCount(of: topic.name) else {
                        throw LogStoreError(.unknownTopicOrPartition, "topic \(topic.name) does not exist")
                    }
                    if let assignments {
                        // One broker: each new partition's only possible replica is this node.
                        guard assignments.count == count - current, assignments.allSatisfy({ $0 == [nodeId] }) else {
                            throw AssignmentRefused(message: "paynode is one broker (id \(nodeId)): give each of the \(max(count - current, 0)) new partitions the replicas [\(nodeId)], or no assignment")
                        }
                    }
                    try transaction.addPartitions(topic: topic.name, count: count)
                    if validateOnly { throw ValidatedOnly() }
                }
                answer(.none)
            } catch is ValidatedOnly {
                answer(.none)
            } catch let error as AssignmentRefused {
                answer(.invalidReplicaAssignment, error.message)
            } catch let error as LogStoreError {
                answer(error.kafkaErrorCode, error.message)
            } catch {
                answer(.unknownServerError, "\(error)")
            }
        }
        countRequest(.createPartitions, error: firstError(results.map(\.errorCode)))
        return CreatePartitionsResponse(results: results)
    }

    /// Every partition in one transaction. A partition named twice is deleted up to the larger
    /// offset and answered once; partitions that cannot be (unknown, out of range, refused)
    /// are answered alone and do not stop the rest.
    func deleteRecords(_ request: DeleteRecordsRequest, session: KafkaSession) async -> DeleteRecordsResponse {
        let partitionCount = request.topics.reduce(0) { $0 &+ $1.partitions.count }
        if let message = requestLimits.refusePartitions(partitionCount, api: "DeleteRecords") {
            rejections.warning(key: "request-limit-delete-records", "refused an oversized request", metadata: ["reason": "\(message)"])
            countRequest(.deleteRecords, error: .invalidRequest)
            return DeleteRecordsResponse(topics: request.topics.map { topic in
                .init(name: topic.name, partitions: topic.partitions.map {
                    .init(partitionIndex: $0.partitionIndex, lowWatermark: -1, errorCode: KafkaErrorCode.invalidRequest.rawValue)
                })
            })
        }
        // Topic -> partition -> offset, in first-seen order.
        var topicOrder: [String] = []
        var targets: [String: [(partition: Int32, offset: Int64)]] = [:]
        for topic in request.topics {
            if targets[topic.name] == nil { topicOrder.append(topic.name) }
            var partitions = targets[topic.name, default: []]
            for partition in topic.partitions {
                if let index = partitions.firstIndex(where: { $0.partition == partition.partitionIndex }) {
                    // -1 (the high watermark) is the furthest; otherwise the larger offset.
                    let existing = partitions[index].offset
                    partitions[index].offset = existing == -1 || partition.offset == -1 ? -1 : max(existing, partition.offset)
                } else {
                    partitions.append((partition.partitionIndex, partition.offset))
                }
            }
            targets[topic.name] = partitions
        }
        var refusals: [String: KafkaErrorCode] = [:]
        for name in topicOrder {
            if !authorized(session, .delete, .topic(name)) {
                refusals[name] = .topicAuthorizationFailed
            } else if protectedTopicRefusal(name, action: "truncated") != nil {
                refusals[name] = .policyViolation
            }
        }
        let work = topicOrder.filter { refusals[$0] == nil }.map { ($0, targets[$0] ?? []) }
        let outcomes: [String: [Int32: Result<Int64, LogStoreError>]]
        do {
            outcomes = try await store.write { transaction in
                var outcomes: [String: [Int32: Result<Int64, LogStoreError>]] = [:]
                for (name, partitions) in work {
                    for target in partitions {
                        do {
                            let start = try transaction.deleteRecords(topic: name, partition: target.partition, before: target.offset)
                            outcomes[name, default: [:]][target.partition] = .success(start)
                        } catch let error as LogStoreError where error.code == .unknownTopicOrPartition || error.code == .offsetOutOfRange {
                            // Refused before anything was written; other failures abort the whole transaction.
                            outcomes[name, default: [:]][target.partition] = .failure(error)
                        }
                    }
                }
                return outcomes
            }
        } catch {
            let code = kafkaErrorCode(for: error)
            for (name, _) in work { refusals[name] = code }
            outcomes = [:]
        }
        let topics = topicOrder.map { name in
            DeleteRecordsResponse.Topic(name: name, partitions: (targets[name] ?? []).map { target in
                if let refusal = refusals[name] {
                    return .init(partitionIndex: target.partition, lowWatermark: -1, errorCode: refusal.rawValue)
                }
                switch outcomes[name]?[target.partition] {
                case .success(let start): return .init(partitionIndex: target.partition, lowWatermark: start)
                case .failure(let error): return .init(partitionIndex: target.partition, lowWatermark: -1, errorCode: error.kafkaErrorCode.rawValue)
                case nil: return .init(partitionIndex: target.partition, lowWatermark: -1, errorCode: KafkaErrorCode.unknownServerError.rawValue)
                }
            })
        }
        countRequest(.deleteRecords, error: firstError(topics.flatMap { $0.partitions.map(\.errorCode) }))
        return DeleteRecordsResponse(topics: topics)
    }

    /// Why `topic` may not be `action`, or nil when it may.
    private func protectedTopicRefusal(_ topic: String, action: String) -> String? {
        guard configuration.protectedTopics.contains(topic) else { return nil }
        return "topic \(topic) belongs to this node's payment pipeline and cannot be \(action) through Kafka; retention (retention.ms, retention.bytes) governs its size"
    }

    /// The first non-zero code of a per-resource answer, for the request counter.
    func firstError(_ codes: [Int16]) -> KafkaErrorCode {
        codes.first { $0 != 0 }.flatMap { KafkaErrorCode(rawValue: $0) } ?? .none
    }
}

/// A CreatePartitions assignment this single-broker node cannot honour.
private struct AssignmentRefused: Error {
    var message: String
}
