import Protocol

/// Authorization of each API, as Kafka's KafkaApis checks it: the resources a request names
/// that its principal may not touch are answered with TOPIC_/GROUP_/CLUSTER_AUTHORIZATION_FAILED
/// and never reach the store or the group coordinator; the rest is served as before.
extension KafkaBroker {
    func authorized(_ session: KafkaSession, _ operation: AclOperation, _ resource: AclResource) -> Bool {
        let allowed = access.authorize(session, operation, resource)
        if !allowed {
            rejections.warning(key: "denied-\(resource.type)", "request denied by ACL",
                               metadata: ["principal": "\(session.principal)", "client": "\(session.clientHost)",
                                          "operation": "\(operation)", "resource": "\(resource)"])
        }
        return allowed
    }

    static let topicDenied = KafkaErrorCode.topicAuthorizationFailed.rawValue
    static let groupDenied = KafkaErrorCode.groupAuthorizationFailed.rawValue

    /// Produce: WRITE on each topic.
    func authorizeProduce(_ request: inout ProduceRequest, session: KafkaSession) -> [ProduceResponse.TopicProduceResponse] {
        var denied: [ProduceResponse.TopicProduceResponse] = []
        request.topicData.removeAll { topic in
            guard !authorized(session, .write, .topic(topic.name)) else { return false }
            denied.append(.init(name: topic.name, partitionResponses: topic.partitionData.map {
                .init(index: $0.index, errorCode: Self.topicDenied, baseOffset: -1,
                      errorMessage: "\(session.principal) may not write topic \(topic.name)")
            }))
            return true
        }
        return denied
    }

    /// Fetch: READ on each topic.
    func authorizeFetch(_ request: inout FetchRequest, session: KafkaSession) -> [FetchResponse.FetchableTopicResponse] {
        var denied: [FetchResponse.FetchableTopicResponse] = []
        request.topics.removeAll { topic in
            guard !authorized(session, .read, .topic(topic.topic)) else { return false }
            denied.append(.init(topic: topic.topic, partitions: topic.partitions.map {
                .init(partitionIndex: $0.partition, errorCode: Self.topicDenied, highWatermark: -1, records: nil)
            }))
            return true
        }
        return denied
    }

    /// ListOffsets: DESCRIBE on each topic.
    func authorizeListOffsets(_ request: inout ListOffsetsRequest, session: KafkaSession) -> [ListOffsetsResponse.ListOffsetsTopicResponse] {
        var denied: [ListOffsetsResponse.ListOffsetsTopicResponse] = []
        request.topics.removeAll { topic in
            guard !authorized(session, .describe, .topic(topic.name)) else { return false }
            denied.append(.init(name: topic.name, partitions: topic.partitions.map {
                .init(partitionIndex: $0.partitionIndex, errorCode: Self.topicDenied)
            }))
            return true
        }
        return denied
    }

    /// OffsetCommit: READ on the group (else every partition is refused), READ on each topic.
    func authorizeOffsetCommit(_ request: inout OffsetCommitRequest, session: KafkaSession) -> [OffsetCommitResponse.Topic] {
        let groupAllowed = authorized(session, .read, .group(request.groupId))
        var denied: [OffsetCommitResponse.Topic] = []
        request.topics.removeAll { topic in
            if groupAllowed && authorized(session, .read, .topic(topic.name)) { return false }
            let code = groupAllowed ? Self.topicDenied : Self.groupDenied
            denied.append(.init(name: topic.name, partitions: topic.partitions.map { .init(partitionIndex: $0.partitionIndex, errorCode: code) }))
            return true
        }
        return denied
    }

    /// CreateTopics: CREATE on the cluster or on the topic.
    func authorizeCreateTopics(_ request: inout CreateTopicsRequest, session: KafkaSession) -> [CreateTopicsResponse.CreatableTopicResult] {
        guard !access.authorize(session, .create, .cluster) else { return [] }
        var denied: [CreateTopicsResponse.CreatableTopicResult] = []
        request.topics.removeAll { topic in
            guard !authorized(session, .create, .topic(topic.name)) else { return false }
            denied.append(.init(name: topic.name, errorCode: Self.topicDenied,
                                errorMessage: "\(session.principal) may not create topic \(topic.name)"))
            return true
        }
        return denied
    }

    /// Metadata: DESCRIBE on each topic. Asked for every topic, the ones the principal may not
    /// describe are left out; named, they are answered TOPIC_AUTHORIZATION_FAILED. Creating a
    /// missing topic needs CREATE on the cluster or the topic.
    func authorizeMetadata(_ response: MetadataResponse, requestedAll: Bool, session: KafkaSession) -> MetadataResponse {
        var response = response
        response.topics = response.topics.compactMap { topic in
            if authorized(session, .describe, .topic(topic.name)) { return topic }
            return requestedAll ? nil : .init(errorCode: Self.topicDenied, name: topic.name, partitions: [])
        }
        return response
    }

    func mayCreateTopic(_ name: String, session: KafkaSession) -> Bool {
        access.authorize(session, .create, .cluster) || access.authorize(session, .create, .topic(name))
    }

    /// InitProducerId without a transactional id: IDEMPOTENT_WRITE on the cluster, or WRITE on
    /// some topic (KIP-679).
    func mayStartIdempotentProducer(_ session: KafkaSession) -> Bool {
        let authorizer = access.authorizer
        return authorizer.authorize(session.principal, host: session.address, .idempotentWrite, .cluster)
            || authorizer.mayWriteSomeTopic(session.principal, host: session.address)
    }
}
