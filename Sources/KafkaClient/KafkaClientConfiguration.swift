/// How a `KafkaClient` finds and talks to its broker.
public struct KafkaClientConfiguration: Sendable {
    /// Tried in turn (round-robin) until one answers.
    public var bootstrapServers: [KafkaBrokerAddress]
    public var connection: KafkaConnection.Configuration
    /// Back-off between connection attempts.
    public var reconnectBackoff: KafkaBackoff
    /// Connection attempts per operation before it fails with `.connectionFailed`.
    public var reconnectAttempts: Int
    /// Extra attempts for requests that are safe to repeat (metadata, offsets, fetch, commit)
    /// when they fail retriably (connection lost, timeout, retriable broker error).
    public var requestRetries: Int
    /// How long cached topic metadata (partition counts) is trusted.
    public var metadataMaxAge: Duration
    /// Whether partition lookups (`partitionCount(for:)`, used by the producer) ask the broker
    /// to create unknown topics, as Kafka's producer does.
    public var allowAutoTopicCreation: Bool

    public init(bootstrapServers: [KafkaBrokerAddress], connection: KafkaConnection.Configuration = .init(),
                reconnectBackoff: KafkaBackoff = .init(), reconnectAttempts: Int = 10, requestRetries: Int = 3,
                metadataMaxAge: Duration = .seconds(300), allowAutoTopicCreation: Bool = true) {
        self.bootstrapServers = bootstrapServers
        self.connection = connection
        self.reconnectBackoff = reconnectBackoff
        self.reconnectAttempts = reconnectAttempts
        self.requestRetries = requestRetries
        self.metadataMaxAge = metadataMaxAge
        self.allowAutoTopicCreation = allowAutoTopicCreation
    }
}
