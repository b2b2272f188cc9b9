import Logging
import NIOCore
import NIOPosix
import Protocol

/// A Kafka client for a single-broker cluster such as paynode: one pipelined connection to the
/// first bootstrap server that answers (re-established with exponential back-off and jitter
/// when it drops), a metadata cache, and the admin, fetch and offset operations. Every partition
/// is led by that one broker. Operations that are safe to repeat are retried on retriable errors.
///
/// A broker answers one request per connection at a time, so a long-polling fetch delays the
/// requests queued behind it: give a producer and a tailing consumer separate clients.
public actor KafkaClient {
    public nonisolated let configuration: KafkaClientConfiguration
    private nonisolated let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private var current: KafkaConnection?
    private var connecting: Task<KafkaConnection, any Error>?
    private var nextServer = 0
    private var topicCache: [String: (topic: KafkaClusterMetadata.Topic, fetchedAt: ContinuousClock.Instant)] = [:]
    private var isShutDown = false

    public init(configuration: KafkaClientConfiguration,
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "paynode.kafka-client")) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    public init(bootstrapServers: [KafkaBrokerAddress]) {
        self.init(configuration: KafkaClientConfiguration(bootstrapServers: bootstrapServers))
    }

    // MARK: Connection

    /// The live connection, connecting (or reconnecting) first if needed.
    public func connection() async throws -> KafkaConnection {
        guard !isShutDown else { throw KafkaClientError(.shutDown, "the client is shut down") }
        if let current, current.isActive { return current }
        if let connecting { return try await connecting.value }
        let task = Task { try await self.connectWithBackoff() }
        connecting = task
        defer { connecting = nil }
        let connection = try await task.value
        guard !isShutDown else {
            await connection.close()
            throw KafkaClientError(.shutDown, "the client is shut down")
        }
        current = connection
        return connection
    }

    private func connectWithBackoff() async throws -> KafkaConnection {
        let servers = configuration.bootstrapServers
        guard !servers.isEmpty else { throw KafkaClientError(.invalidArgument, "no bootstrap servers configured") }
        let attempts = max(1, configuration.reconnectAttempts)
        var lastError: (any Error)?
        for attempt in 0..<attempts {
            let address = servers[nextServer % servers.count]
            do {
                let connection = try await KafkaConnection.connect(to: address, configuration: configuration.connection,
                                                                   eventLoopGroup: eventLoopGroup)
                if attempt > 0 { logger.info("connected", metadata: ["broker": "\(address)", "attempts": "\(attempt + 1)"]) }
                return connection
            } catch let error as KafkaClientError where error.code == .unsupportedVersion {
                throw error
            } catch {
                lastError = error
                nextServer += 1
                logger.debug("connect failed", metadata: ["broker": "\(address)", "attempt": "\(attempt + 1)", "error": "\(error)"])
                if attempt + 1 < attempts {
                    try await Task.sleep(for: configuration.reconnectBackoff.delay(attempt: attempt))
                }
            }
        }
        throw KafkaClientError(.connectionFailed,
                               "no broker of \(servers.map(\.description).joined(separator: ",")) answered after \(attempts) attempts: \(lastError.map { "\($0)" } ?? "-")")
    }

    /// Closes the connection; later operations fail with `.shutDown`.
    public func shutdown() async {
        isShutDown = true
        connecting?.cancel()
        await current?.close()
        current = nil
    }

    /// Sends one request on the live connection, once (no retry). nil only for acks=0 Produce.
    public func send<Request: KafkaRequest>(_ request: Request, timeout: Duration? = nil) async throws -> Request.Response? {
        let connection = try await connection()
        return try await connection.send(request, timeout: timeout)
    }

    /// Sends a request that always gets a response, once (no retry).
    public func request<Request: KafkaRequest>(_ request: Request, timeout: Duration? = nil) async throws -> Request.Response {
        let connection = try await connection()
        return try await connection.request(request, timeout: timeout)
    }

    /// The address of the broker currently connected (or the first bootstrap server).
    public var brokerName: String {
        current?.address.description ?? configuration.bootstrapServers.first?.description ?? "-"
    }

    /// Runs `operation`, repeating it after a back-off while it fails retriably.
    func retrying<T>(_ what: String, _ operation: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await operation()
            } catch let error as KafkaClientError where error.isRetriable && attempt < configuration.requestRetries {
                logger.debug("retrying", metadata: ["operation": "\(what)", "attempt": "\(attempt + 1)", "error": "\(error)"])
                try await Task.sleep(for: configuration.reconnectBackoff.delay(attempt: attempt))
                attempt += 1
            }
        }
    }

    // MARK: Metadata

    /// Asks the broker about `topics` (nil: every topic) and refreshes the cache.
    public func metadata(topics: [String]? = nil, allowAutoTopicCreation: Bool = false) async throws -> KafkaClusterMetadata {
        let request = MetadataRequest(topics: topics?.map { .init(name: $0) }, allowAutoTopicCreation: allowAutoTopicCreation)
        let response = try await retrying("Metadata") { try await self.request(request) }
        let metadata = KafkaClusterMetadata(response)
        let now = ContinuousClock.now
        for (name, topic) in metadata.topics { topicCache[name] = (topic, now) }
        for name in metadata.topicErrors.keys { topicCache[name] = nil }
        return metadata
    }

    /// The partitions of `topic`, from the cache when fresh. Unknown topics are created when
    /// `configuration.allowAutoTopicCreation` is set (and the broker allows it), else fail
    /// with UNKNOWN_TOPIC_OR_PARTITION.
    public func partitions(of topic: String) async throws -> [Int32] {
        if let cached = topicCache[topic], ContinuousClock.now - cached.fetchedAt < configuration.metadataMaxAge {
            return cached.topic.partitions.map(\.partition)
        }
        let metadata = try await metadata(topics: [topic], allowAutoTopicCreation: configuration.allowAutoTopicCreation)
        guard let found = metadata.topics[topic], !found.partitions.isEmpty else {
            let code = metadata.topicErrors[topic] ?? KafkaErrorCode.unknownTopicOrPartition.rawValue
            throw KafkaClientError.broker(code, "no partitions known for the topic", broker: brokerName, topic: topic)
        }
        return found.partitions.map(\.partition)
    }

    public func partitionCount(for topic: String) async throws -> Int {
        try await partitions(of: topic).count
    }

    /// Drops cached metadata (all topics, or one), so the next lookup asks the broker.
    public func invalidateMetadata(topic: String? = nil) {
        if let topic { topicCache[topic] = nil } else { topicCache.removeAll() }
    }

    // MARK: Admin

    /// Creates topics; returns the failures by topic name (empty when all were created).
    public func createTopics(_ topics: [KafkaNewTopic], validateOnly: Bool = false,
                             timeout: Duration = .seconds(30)) async throws -> [String: KafkaClientError] {
        let request = CreateTopicsRequest(topics: topics.map { topic in
            .init(name: topic.name, numPartitions: topic.partitions, replicationFactor: -1,
                  configs: topic.configs.sorted { $0.key < $1.key }.map { .init(name: $0.key, value: $0.value) })
        }, timeoutMs: timeout.kafkaMilliseconds, validateOnly: validateOnly)
        // Not retried: a repeat after a lost answer would report TOPIC_ALREADY_EXISTS.
        let response = try await self.request(request)
        for topic in topics { topicCache[topic.name] = nil }
        var failures: [String: KafkaClientError] = [:]
        for result in response.topics where result.errorCode != 0 {
            failures[result.name] = .broker(result.errorCode, result.errorMessage ?? "cannot create the topic",
                                            broker: brokerName, topic: result.name)
        }
        return failures
    }

    /// Creates one topic, throwing the broker's error (e.g. TOPIC_ALREADY_EXISTS).
    public func createTopic(_ name: String, partitions: Int32 = -1, configs: [String: String] = [:]) async throws {
        let failures = try await createTopics([KafkaNewTopic(name: name, partitions: partitions, configs: configs)])
        if let failure = failures[name] { throw failure }
    }

    // MARK: Offsets

    /// Offsets of `partitions` (nil: every partition of the topic) for `spec`.
    public func listOffsets(topic: String, partitions: [Int32]? = nil, spec: KafkaOffsetSpec) async throws -> [Int32: KafkaListedOffset] {
        let wanted: [Int32]
        if let partitions { wanted = partitions } else { wanted = try await self.partitions(of: topic) }
        let found = try await listOffsets(wanted.map { KafkaTopicPartition(topic, $0) }, spec: spec)
        return Dictionary(uniqueKeysWithValues: found.map { ($0.key.partition, $0.value) })
    }

    public func listOffsets(_ partitions: [KafkaTopicPartition], spec: KafkaOffsetSpec) async throws -> [KafkaTopicPartition: KafkaListedOffset] {
        guard !partitions.isEmpty else { return [:] }
        let byTopic = Dictionary(grouping: partitions, by: \.topic)
        let request = ListOffsetsRequest(topics: byTopic.keys.sorted().map { topic in
            .init(name: topic, partitions: byTopic[topic]!.map { .init(partitionIndex: $0.partition, timestamp: spec.wireValue) })
        })
        return try await retrying("ListOffsets") {
            let response = try await self.request(request)
            var result: [KafkaTopicPartition: KafkaListedOffset] = [:]
            for topic in response.topics {
                for partition in topic.partitions {
                    guard partition.errorCode == 0 else {
                        throw KafkaClientError.broker(partition.errorCode, "ListOffsets failed", broker: brokerName,
                                                      topic: topic.name, partition: partition.partitionIndex)
                    }
                    result[KafkaTopicPartition(topic.name, partition.partitionIndex)] =
                        KafkaListedOffset(offset: partition.offset, timestamp: partition.timestamp)
                }
            }
            if let missing = partitions.first(where: { result[$0] == nil }) {
                throw KafkaClientError(.protocolViolation, "ListOffsets answer lacks the partition", broker: brokerName,
                                       topic: missing.topic, partition: missing.partition)
            }
            return result
        }
    }

    /// Commits consumer-group offsets outside any group generation (Kafka's assign()-mode
    /// commit). Each offset is the next one to read.
    public func commitOffsets(group: String, _ offsets: [KafkaTopicPartition: KafkaOffsetAndMetadata]) async throws {
        guard !offsets.isEmpty else { return }
        let byTopic = Dictionary(grouping: offsets.keys, by: \.topic)
        let request = OffsetCommitRequest(groupId: group, topics: byTopic.keys.sorted().map { topic in
            .init(name: topic, partitions: byTopic[topic]!.sorted().map { partition in
                let value = offsets[partition]!
                return .init(partitionIndex: partition.partition, committedOffset: value.offset, committedMetadata: value.metadata)
            })
        })
        try await retrying("OffsetCommit") {
            let response = try await self.request(request)
            for topic in response.topics {
                for partition in topic.partitions where partition.errorCode != 0 {
                    throw KafkaClientError.broker(partition.errorCode, "OffsetCommit for group \(group) failed", broker: brokerName,
                                                  topic: topic.name, partition: partition.partitionIndex)
                }
            }
        }
    }

    /// The group's committed offsets for `topics` (nil: every topic the group committed to).
    /// Partitions without a committed offset are left out.
    public func fetchOffsets(group: String, topics: [String]? = nil) async throws -> [KafkaTopicPartition: KafkaOffsetAndMetadata] {
        var requested: [OffsetFetchRequest.Topic]?
        if let topics {
            var list: [OffsetFetchRequest.Topic] = []
            for topic in topics { list.append(.init(name: topic, partitionIndexes: try await partitions(of: topic))) }
            requested = list
        }
        let request = OffsetFetchRequest(groupId: group, topics: requested)
        return try await retrying("OffsetFetch") {
            let response = try await self.request(request)
            guard response.errorCode == 0 else {
                throw KafkaClientError.broker(response.errorCode, "OffsetFetch for group \(group) failed", broker: brokerName)
            }
            var result: [KafkaTopicPartition: KafkaOffsetAndMetadata] = [:]
            for topic in response.topics {
                for partition in topic.partitions {
                    guard partition.errorCode == 0 else {
                        throw KafkaClientError.broker(partition.errorCode, "OffsetFetch for group \(group) failed", broker: brokerName,
                                                      topic: topic.name, partition: partition.partitionIndex)
                    }
                    guard partition.committedOffset >= 0 else { continue }
                    result[KafkaTopicPartition(topic.name, partition.partitionIndex)] =
                        KafkaOffsetAndMetadata(offset: partition.committedOffset, metadata: partition.metadata)
                }
            }
            return result
        }
    }

    // MARK: Producer support

    /// A new producer id and epoch (InitProducerId without a transactional id), once.
    public func initProducerId(timeout: Duration? = nil) async throws -> (producerId: Int64, epoch: Int16) {
        let response = try await request(InitProducerIdRequest(transactionalId: nil, transactionTimeoutMs: Int32.max), timeout: timeout)
        guard response.errorCode == 0 else {
            throw KafkaClientError.broker(response.errorCode, "InitProducerId failed", broker: brokerName)
        }
        return (response.producerId, response.producerEpoch)
    }
}
