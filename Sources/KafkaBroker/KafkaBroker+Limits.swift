import Logging
import Protocol

/// Per-request limits checked in the dispatch, before a handler runs: a request naming more
/// partitions than `KafkaRequestLimits` allows is answered with INVALID_REQUEST for every
/// partition it names (nothing is stored or read), and a commit that would create a group
/// beyond the node's group limit with POLICY_VIOLATION.
extension KafkaBroker {
    var requestLimits: KafkaRequestLimits { configuration.requestLimits }

    /// The refusal of a Produce request over the partition limit, or nil when it may run.
    func refuseOversized(_ request: ProduceRequest, peer: String) -> ProduceResponse? {
        let partitions = request.topicData.reduce(0) { $0 &+ $1.partitionData.count }
        guard let message = requestLimits.refusePartitions(partitions, api: "Produce") else { return nil }
        refused(.produce, message, peer: peer)
        return ProduceResponse(responses: request.topicData.map { topic in
            .init(name: topic.name, partitionResponses: topic.partitionData.map {
                .init(index: $0.index, errorCode: KafkaErrorCode.invalidRequest.rawValue, baseOffset: -1, errorMessage: message)
            })
        })
    }

    func refuseOversized(_ request: FetchRequest, peer: String) -> FetchResponse? {
        let partitions = request.topics.reduce(0) { $0 &+ $1.partitions.count }
        guard let message = requestLimits.refusePartitions(partitions, api: "Fetch") else { return nil }
        refused(.fetch, message, peer: peer)
        // Fetch has a top-level error code (v7+); older versions read the per-partition ones.
        return FetchResponse(errorCode: KafkaErrorCode.invalidRequest.rawValue, responses: request.topics.map { topic in
            .init(topic: topic.topic, partitions: topic.partitions.map {
                .init(partitionIndex: $0.partition, errorCode: KafkaErrorCode.invalidRequest.rawValue, highWatermark: -1, records: nil)
            })
        })
    }

    func refuseOversized(_ request: OffsetCommitRequest, peer: String) -> OffsetCommitResponse? {
        let partitions = request.topics.reduce(0) { $0 &+ $1.partitions.count }
        let code: KafkaErrorCode
        if let message = requestLimits.refusePartitions(partitions, api: "OffsetCommit") {
            refused(.offsetCommit, message, peer: peer)
            code = .invalidRequest
        } else if !request.groupId.isEmpty, !coordinator.admitGroup(request.groupId) {
            // The coordinator logged it (rate-limited).
            countRequest(.offsetCommit, error: .policyViolation)
            code = .policyViolation
        } else {
            return nil
        }
        return OffsetCommitResponse(topics: request.topics.map { topic in
            .init(name: topic.name, partitions: topic.partitions.map { .init(partitionIndex: $0.partitionIndex, errorCode: code.rawValue) })
        })
    }

    private func refused(_ api: KafkaAPIKey, _ message: String, peer: String) {
        countRequest(api, error: .invalidRequest)
        rejections.warning(key: "request-limit-\(api)", "refused an oversized request",
                           metadata: ["api": "\(api)", "reason": "\(message)", "client": "\(peer)"])
    }
}
