import LogStore
import Protocol

/// Metadata, CreateTopics, FindCoordinator and InitProducerId.
extension KafkaBroker {
    func metadata(_ request: MetadataRequest, version: Int16, session: KafkaSession) async -> MetadataResponse {
        let configuration = self.configuration
        var names: [String]
        if let topics = request.topics {
            // Kafka answers each named topic once; a list naming one topic many times must not
            // make a response many times larger.
            var seen = Set<String>()
            names = topics.map(\.name).filter { seen.insert($0).inserted }
        } else {
            names = (try? store.topics()) ?? []
        }
        var refusedNames: [String] = []
        let limit = configuration.requestLimits.maximumTopicsPerRequest
        if request.topics != nil, names.count > limit {
            refusedNames = Array(names[limit...])
            names = Array(names[..<limit])
            rejections.warning(key: "request-limit-metadata", "refused topics of an oversized Metadata request",
                               metadata: ["topics": "\(names.count + refusedNames.count)", "limit": "\(limit)"])
        }
        // Metadata v4+ lets the client say whether it wants topics created.
        let mayCreate = configuration.autoCreateTopics && (version < 4 || request.allowAutoTopicCreation)
        var topics: [MetadataResponse.MetadataResponseTopic] = []
        for name in names {
            var description = try? store.describe(topic: name)
            var error = KafkaErrorCode.none
            if description == nil {
                do {
                    try TopicName.validate(name)
                    if mayCreate && mayCreateTopic(name, session: session) {
                        description = try await createTopicIfMissing(name, partitions: configuration.defaultPartitions)
                    } else {
                        error = .unknownTopicOrPartition
                    }
                } catch {
                    let code = kafkaErrorCode(for: error)
                    topics.append(.init(errorCode: code.rawValue, name: name, partitions: []))
                    continue
                }
            }
            let partitions = (description?.partitions ?? []).map { partition in
                MetadataResponse.MetadataResponsePartition(
                    errorCode: 0, partitionIndex: partition.partition, leaderId: configuration.nodeId, leaderEpoch: Self.leaderEpoch,
                    replicaNodes: [configuration.nodeId], isrNodes: [configuration.nodeId], offlineReplicas: [])
            }
            topics.append(.init(errorCode: error.rawValue, name: name, partitions: partitions))
        }
        // Named beyond maximumTopicsPerRequest: answered, not looked up or created.
        topics += refusedNames.map { .init(errorCode: KafkaErrorCode.invalidRequest.rawValue, name: $0, partitions: []) }
        countRequest(.metadata, error: refusedNames.isEmpty ? .none : .invalidRequest)
        return MetadataResponse(
            brokers: [.init(nodeId: configuration.nodeId, host: configuration.advertisedHost, port: Int32(configuration.advertisedPort))],
            clusterId: configuration.clusterId, controllerId: configuration.nodeId, topics: topics)
    }

    /// Creates a topic unless a concurrent request already did.
    func createTopicIfMissing(_ name: String, partitions: Int) async throws -> TopicDescription? {
        do {
            return try await store.createTopic(name, partitions: partitions)
        } catch let error as LogStoreError where error.code == .topicAlreadyExists {
            return try store.describe(topic: name)
        }
    }

    func createTopics(_ request: CreateTopicsRequest) async -> CreateTopicsResponse {
        var results: [CreateTopicsResponse.CreatableTopicResult] = []
        let defaultPartitions = configuration.defaultPartitions
        let verdicts = configuration.requestLimits.createTopics(partitionCounts: request.topics.map {
            $0.numPartitions == -1 ? defaultPartitions : Int($0.numPartitions)
        })
        // Kafka refuses every copy of a topic named twice in one request (INVALID_REQUEST).
        var counts: [String: Int] = [:]
        for topic in request.topics { counts[topic.name, default: 0] += 1 }
        for (topic, verdict) in zip(request.topics, verdicts) {
            func fail(_ code: KafkaErrorCode, _ message: String) {
                results.append(.init(name: topic.name, errorCode: code.rawValue, errorMessage: message))
            }
            guard counts[topic.name, default: 0] == 1 else {
                fail(.invalidRequest, "topic \(topic.name) is named more than once in the request")
                continue
            }
            switch verdict {
            case .create:
                break
            case .tooManyForTopic(let message):
                rejections.warning(key: "create-topics-limit", "refused a topic", metadata: ["topic": "\(topic.name)", "reason": "\(message)"])
                fail(.invalidPartitions, message)
                continue
            case .overRequestBudget(let message):
                rejections.warning(key: "create-topics-limit", "refused a topic", metadata: ["topic": "\(topic.name)", "reason": "\(message)"])
                fail(.policyViolation, message)
                continue
            }
            guard topic.replicationFactor == -1 || topic.replicationFactor == 1 else {
                fail(.invalidReplicationFactor, "paynode keeps one replica; replication factor \(topic.replicationFactor) is not possible")
                continue
            }
            guard topic.assignments.isEmpty else {
                fail(.invalidRequest, "manual replica assignments are not supported")
                continue
            }
            let partitions = topic.numPartitions == -1 ? configuration.defaultPartitions : Int(topic.numPartitions)
            var topicConfiguration = TopicConfiguration()
            var configError: String?
            for entry in topic.configs {
                switch entry.name {
                case "retention.ms":
                    guard let value = entry.value.flatMap(Int64.init) else { configError = "retention.ms must be an integer"; break }
                    topicConfiguration.retentionMilliseconds = value
                case "retention.bytes":
                    guard let value = entry.value.flatMap(Int64.init) else { configError = "retention.bytes must be an integer"; break }
                    topicConfiguration.retentionBytes = value
                case "max.message.bytes":
                    switch ConfigCatalog.parseMaximumMessageBytes(entry.value, maximumBatchBytes: store.configuration.maximumBatchBytes) {
                    case .success(let value): topicConfiguration.maximumMessageBytes = value
                    case .failure(let refusal): configError = refusal.message
                    }
                case ConfigCatalog.valueSchemaConfig:
                    switch ConfigCatalog.parseValueSchema(entry.value, known: Set(configuration.valueSchemas.keys)) {
                    case .success(let schema): topicConfiguration.valueSchema = schema
                    case .failure(let refusal): configError = refusal.message
                    }
                default:
                    // Other Kafka topic configs (cleanup.policy, ...) have no meaning here; accept them.
                    continue
                }
            }
            if let configError {
                fail(.invalidRequest, configError)
                continue
            }
            do {
                try TopicName.validate(topic.name)
                if request.validateOnly {
                    // The same checks as creating (name, count, existence, the partition budget),
                    // in a transaction that is then rolled back.
                    let validated = topicConfiguration
                    do {
                        try await store.write { transaction in
                            try transaction.createTopic(topic.name, partitions: partitions, configuration: validated)
                            throw ValidatedOnly()
                        }
                    } catch is ValidatedOnly {}
                } else {
                    try await store.createTopic(topic.name, partitions: partitions, configuration: topicConfiguration)
                }
                results.append(.init(name: topic.name, errorCode: 0, errorMessage: nil))
            } catch let error as LogStoreError {
                if error.code == .tooManyPartitions {
                    // The node's partition budget (the rest of the store is kept for the
                    // node's own tables): worth an operator's look, but rate-limited.
                    rejections.warning(key: "partition-budget", "refused a topic: the node's partition budget is spent",
                                       metadata: ["topic": "\(topic.name)", "reason": "\(error.message)"])
                }
                fail(error.kafkaErrorCode, error.message)
            } catch {
                fail(.unknownServerError, "\(error)")
            }
        }
        countRequest(.createTopics, error: .none)
        return CreateTopicsResponse(topics: results)
    }

    func findCoordinator(_ request: FindCoordinatorRequest) -> FindCoordinatorResponse {
        let configuration = self.configuration
        guard request.keyType == 0 else {
            countRequest(.findCoordinator, error: .coordinatorNotAvailable)
            return FindCoordinatorResponse(errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue,
                                           errorMessage: "transactions are not supported", nodeId: -1, host: "", port: -1)
        }
        countRequest(.findCoordinator, error: .none)
        return FindCoordinatorResponse(errorCode: 0, errorMessage: nil, nodeId: configuration.nodeId,
                                       host: configuration.advertisedHost, port: Int32(configuration.advertisedPort))
    }

    func initProducerId(_ request: InitProducerIdRequest, session: KafkaSession) async -> InitProducerIdResponse {
        guard request.transactionalId == nil else {
            // Transactions are not supported; idempotence needs no transactional id.
            countRequest(.initProducerId, error: .invalidRequest)
            return InitProducerIdResponse(errorCode: KafkaErrorCode.invalidRequest.rawValue, producerId: -1, producerEpoch: -1)
        }
        do {
            // The id and who got it commit together: a batch carrying the id is later traced to
            // (and only accepted from) this principal.
            let principal = session.principal
            let identity = try await store.write { transaction in
                let identity = try transaction.allocateProducerId()
                try ProducerOwners.record(identity.producerId, owner: principal.description, in: transaction)
                return identity
            }
            countRequest(.initProducerId, error: .none)
            return InitProducerIdResponse(errorCode: 0, producerId: identity.producerId, producerEpoch: identity.epoch)
        } catch {
            let code = kafkaErrorCode(for: error)
            countRequest(.initProducerId, error: code)
            return InitProducerIdResponse(errorCode: code.rawValue, producerId: -1, producerEpoch: -1)
        }
    }
}

/// Ends a validate-only CreateTopics or CreatePartitions transaction: thrown after every check
/// passed, so the transaction rolls back.
struct ValidatedOnly: Error {}

/// DescribeConfigs, IncrementalAlterConfigs and AlterConfigs.
extension KafkaBroker {
    func configCatalog() -> ConfigCatalog {
        let configuration = self.configuration
        return ConfigCatalog(node: .init(nodeId: configuration.nodeId, defaultPartitions: configuration.defaultPartitions,
                                         autoCreateTopics: configuration.autoCreateTopics,
                                         maximumBatchBytes: store.configuration.maximumBatchBytes,
                                         maximumFetchBytes: configuration.maximumFetchBytes,
                                         defaultRetentionMilliseconds: store.configuration.defaultRetentionMilliseconds,
                                         defaultRetentionBytes: store.configuration.defaultRetentionBytes,
                                         knownSchemas: Set(configuration.valueSchemas.keys)))
    }

    /// IncrementalAlterConfigs: each operation applied to what the topic has.
    func incrementalAlterConfigs(_ request: IncrementalAlterConfigsRequest, session: KafkaSession) async -> IncrementalAlterConfigsResponse {
        let resources = request.resources
        let answers = await alterConfigs(of: resources.map { ($0.resourceType, $0.resourceName) }, validateOnly: request.validateOnly,
                                         session: session) { index, topic, catalog in
            ConfigCatalog.apply(resources[index].configs, to: topic.configuration, maximumBatchBytes: catalog.node.maximumBatchBytes,
                                knownSchemas: catalog.node.knownSchemas)
        }
        countRequest(.incrementalAlterConfigs, error: answers.allSatisfy { $0.errorCode == 0 } ? .none : .invalidConfig)
        return IncrementalAlterConfigsResponse(responses: answers)
    }

    /// AlterConfigs, the legacy form: the named configs replace the topic's whole set.
    func alterConfigs(_ request: AlterConfigsRequest, session: KafkaSession) async -> AlterConfigsResponse {
        let resources = request.resources
        let answers = await alterConfigs(of: resources.map { ($0.resourceType, $0.resourceName) }, validateOnly: request.validateOnly,
                                         session: session) { index, topic, catalog in
            ConfigCatalog.replace(resources[index].configs, current: catalog.topicEntries(topic), maximumBatchBytes: catalog.node.maximumBatchBytes,
                                  knownSchemas: catalog.node.knownSchemas)
        }
        countRequest(.alterConfigs, error: answers.allSatisfy { $0.errorCode == 0 } ? .none : .invalidConfig)
        return AlterConfigsResponse(responses: answers)
    }

    /// Both alter APIs: each topic resource is altered in its own transaction, all of its
    /// operations or none; `validateOnly` checks and leaves the store as it was. The node's own
    /// configs are its flags and do not change at run time. `alteration` gets the resource's
    /// index in the request and the topic as stored inside the transaction.
    private func alterConfigs(
        of resources: [(type: Int8, name: String)], validateOnly: Bool, session: KafkaSession,
        alteration: @escaping @Sendable (Int, TopicDescription, ConfigCatalog) -> Result<TopicConfiguration, ConfigCatalog.Refusal>
    ) async -> [IncrementalAlterConfigsResponse.ResourceResponse] {
        typealias Answer = IncrementalAlterConfigsResponse.ResourceResponse
        let limit = configuration.requestLimits.maximumTopicsPerRequest
        let catalog = configCatalog()
        var counts: [String: Int] = [:]
        for resource in resources { counts["\(resource.type)/\(resource.name)", default: 0] += 1 }
        var answers: [Answer] = []
        for (index, resource) in resources.enumerated() {
            func answer(_ code: KafkaErrorCode, _ message: String? = nil) {
                answers.append(Answer(errorCode: code.rawValue, errorMessage: message, resourceType: resource.type,
                                      resourceName: resource.name))
            }
            guard index < limit else {
                answer(.invalidRequest, "more than \(limit) resources in one request")
                continue
            }
            // Kafka refuses a resource named twice in one request rather than pick an order.
            guard counts["\(resource.type)/\(resource.name)", default: 0] == 1 else {
                answer(.invalidRequest, "resource \(resource.name) is named more than once in the request")
                continue
            }
            switch resource.type {
            case ConfigCatalog.topicResource:
                guard authorized(session, .alterConfigs, .topic(resource.name)) else {
                    answer(.topicAuthorizationFailed, "\(session.principal) may not alter the configs of topic \(resource.name)")
                    continue
                }
                let name = resource.name
                do {
                    let refusal: ConfigCatalog.Refusal? = try await store.write { transaction in
                        guard let topic = try transaction.describe(topic: name) else {
                            return ConfigCatalog.Refusal(code: .unknownTopicOrPartition, message: "topic \(name) does not exist")
                        }
                        switch alteration(index, topic, catalog) {
                        case .failure(let refusal):
                            return refusal
                        case .success(let altered):
                            if !validateOnly, altered != topic.configuration {
                                try transaction.alterTopicConfiguration(name, altered)
                            }
                            return nil
                        }
                    }
                    if let refusal { answer(refusal.code, refusal.message) } else { answer(.none) }
                } catch {
                    answer(kafkaErrorCode(for: error), "\(error)")
                }
            case ConfigCatalog.brokerResource:
                guard authorized(session, .alterConfigs, .cluster) else {
                    answer(.clusterAuthorizationFailed, "\(session.principal) may not alter the node's configs")
                    continue
                }
                answer(.invalidConfig, "the node's configs are its command-line flags; change them and restart the node")
            default:
                answer(.invalidRequest, "configs of resource type \(resource.type) are not served (topics: 2, brokers: 4)")
            }
        }
        return answers
    }

    func describeConfigs(_ request: DescribeConfigsRequest, version: Int16, session: KafkaSession) -> DescribeConfigsResponse {
        let configuration = self.configuration
        let catalog = configCatalog()
        // Each resource answered once, and no more of them than a Metadata request may name.
        var seen = Set<String>()
        var resources = request.resources.filter { seen.insert("\($0.resourceType)/\($0.resourceName)").inserted }
        var refused: [DescribeConfigsRequest.Resource] = []
        let limit = configuration.requestLimits.maximumTopicsPerRequest
        if resources.count > limit {
            refused = Array(resources[limit...])
            resources = Array(resources[..<limit])
            rejections.warning(key: "request-limit-describe-configs", "refused resources of an oversized DescribeConfigs request",
                               metadata: ["resources": "\(resources.count + refused.count)", "limit": "\(limit)"])
        }
        let documentation = version >= 3 && request.includeDocumentation
        var results: [DescribeConfigsResponse.Result] = []
        for resource in resources {
            func fail(_ code: KafkaErrorCode, _ message: String) {
                results.append(.init(errorCode: code.rawValue, errorMessage: message, resourceType: resource.resourceType,
                                     resourceName: resource.resourceName))
            }
            let entries: [ConfigCatalog.Entry]
            switch resource.resourceType {
            case ConfigCatalog.topicResource:
                guard authorized(session, .describeConfigs, .topic(resource.resourceName)) else {
                    fail(.topicAuthorizationFailed, "\(session.principal) may not describe the configs of topic \(resource.resourceName)")
                    continue
                }
                let description: TopicDescription?
                do {
                    description = try store.describe(topic: resource.resourceName)
                } catch {
                    fail(kafkaErrorCode(for: error), "\(error)")
                    continue
                }
                guard let description else {
                    fail(.unknownTopicOrPartition, "topic \(resource.resourceName) does not exist")
                    continue
                }
                entries = catalog.topicEntries(description)
            case ConfigCatalog.brokerResource:
                guard resource.resourceName.isEmpty || resource.resourceName == String(configuration.nodeId) else {
                    fail(.invalidRequest, "broker \(resource.resourceName) is not this node (\(configuration.nodeId))")
                    continue
                }
                guard authorized(session, .describeConfigs, .cluster) else {
                    fail(.clusterAuthorizationFailed, "\(session.principal) may not describe the node's configs")
                    continue
                }
                entries = catalog.brokerEntries()
            default:
                fail(.invalidRequest, "configs of resource type \(resource.resourceType) are not served (topics: 2, brokers: 4)")
                continue
            }
            results.append(.init(resourceType: resource.resourceType, resourceName: resource.resourceName,
                                 configs: ConfigCatalog.select(entries, keys: resource.configurationKeys,
                                                               synonyms: request.includeSynonyms, documentation: documentation)))
        }
        results += refused.map {
            .init(errorCode: KafkaErrorCode.invalidRequest.rawValue, errorMessage: "more than \(limit) resources in one request",
                  resourceType: $0.resourceType, resourceName: $0.resourceName)
        }
        countRequest(.describeConfigs, error: refused.isEmpty ? .none : .invalidRequest)
        return DescribeConfigsResponse(results: results)
    }
}
