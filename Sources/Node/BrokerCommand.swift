import ArgumentParser
import PaymentEvents
import Foundation
import KafkaBroker
import LogStore
import Logging
import Protocol
import ServiceLifecycle
import TLSSupport

/// `paynode broker`: the Kafka-compatible log alone, a local Kafka for development.
struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run the Kafka-compatible log alone (a local Kafka for development)."
    )

    @OptionGroup var data: DataDirectoryOptions
    @OptionGroup var kafka: KafkaListenerOptions
    @OptionGroup var tls: TLSListenerOptions
    @OptionGroup var logging: LoggingOptions
    @OptionGroup var httpLimits: HTTPLimitOptions

    @Option(name: .customLong("http-listen"), help: "HTTP (metrics, health) listener HOST:PORT (env: PAYNODE_HTTP_LISTEN; default 127.0.0.1:8090).")
    var httpListen: ListenAddress?

    func run() async throws {
        try logging.bootstrap()
        let logger = Logger(label: "paynode.broker")
        let registry = bootstrapMetrics()
        let http = try ListenAddress.resolve(httpListen, environment: "PAYNODE_HTTP_LISTEN", default: ListenAddress(host: "127.0.0.1", port: 8090))
        let httpConnectionLimits = try httpLimits.resolve()
        var kafkaSettings = try kafka.resolve()
        let servesHTTP2 = try httpLimits.servesHTTP2()
        let tlsContexts = try tls.resolve(kafkaUsesTLS: kafkaSettings.server.securityProtocol.usesTLS,
                                          httpApplicationProtocols: NodeHTTP.applicationProtocols(http2: servesHTTP2))
        kafkaSettings.server.tls = tlsContexts.kafka
        let store = try data.openStore(logLevel: nil)
        defer { store.close() }
        let readiness = Readiness(node: "broker", listeners: ["kafka", "http"], logger: logger)
        let (coordinator, kafkaServer) = try kafkaSettings.makeServices(store: store, readiness: readiness)
        let logGauges = LogGauges(store: store, registry: registry)
        let httpServer = NodeHTTP(readiness: readiness, registry: registry, beforeScrape: logGauges.refresh)
            .server(listen: http, limits: httpConnectionLimits, http2: servesHTTP2, tls: tlsContexts.http,
                    logger: Logger(label: "paynode.http")) { port in readiness.bound("http", port: port) }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: coordinator),
            .init(service: kafkaServer),
            .init(service: httpServer),
        ]
        if let reload = tlsContexts.reloadService(logger: Logger(label: "paynode.tls")) { services.append(.init(service: reload)) }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("stopped")
    }
}

/// The Kafka listener flags shared by `broker` and `service`.
struct KafkaListenerOptions: ParsableArguments {
    @Option(name: .customLong("kafka-listen"), help: "Kafka listener HOST:PORT (env: PAYNODE_KAFKA_LISTEN; default 127.0.0.1:9092).")
    var listen: ListenAddress?

    @Option(name: .customLong("kafka-security-protocol"), help: "Kafka listener security: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (env: PAYNODE_KAFKA_SECURITY_PROTOCOL; default PLAINTEXT).")
    var securityProtocol: String?

    @Option(name: .customLong("super-users"), help: "Principals every ACL lets through, comma-separated (Kafka's super.users; env: PAYNODE_SUPER_USERS; default none).")
    var superUsers: String?

    @Option(name: .customLong("allow-everyone-if-no-acl-found"), help: "Let every principal use a resource no ACL names (Kafka's allow.everyone.if.no.acl.found; env: PAYNODE_ALLOW_EVERYONE_IF_NO_ACL_FOUND; default true).")
    var allowEveryoneIfNoAclFound: Bool?

    @Option(name: .customLong("sasl-enabled-mechanisms"), help: "SASL mechanisms a SASL_* listener offers, comma-separated: SCRAM-SHA-256, SCRAM-SHA-512, PLAIN (env: PAYNODE_SASL_ENABLED_MECHANISMS; default SCRAM-SHA-256,SCRAM-SHA-512,PLAIN).")
    var saslEnabledMechanisms: String?

    @Option(name: .customLong("advertised-host"), help: "Host given to clients in Metadata (env: PAYNODE_ADVERTISED_HOST; default: the listen host, or 127.0.0.1 for a wildcard).")
    var advertisedHost: String?

    @Option(name: .customLong("default-partitions"), help: "Partitions of auto-created topics (env: PAYNODE_DEFAULT_PARTITIONS; default 3).")
    var defaultPartitions: Int?

    @Option(name: .customLong("auto-create-topics"), help: "Create unknown topics named in Metadata requests (env: PAYNODE_AUTO_CREATE_TOPICS; default true in broker, false in service).")
    var autoCreateTopics: Bool?

    @Option(name: .customLong("max-frame-bytes"), help: "Largest request a client may send; a larger one closes the connection (env: PAYNODE_MAX_FRAME_BYTES; default 8388608).")
    var maximumFrameBytes: Int?

    @Option(name: .customLong("max-connections"), help: "Open Kafka connections at most; more are closed at once (env: PAYNODE_MAX_CONNECTIONS; default 1000).")
    var maximumConnections: Int?

    @Option(name: .customLong("max-connections-per-ip"), help: "Open Kafka connections per client address at most (env: PAYNODE_MAX_CONNECTIONS_PER_IP; default 500).")
    var maximumConnectionsPerAddress: Int?

    @Option(name: .customLong("connections-max-idle-ms"), help: "Close a Kafka connection idle this long (env: PAYNODE_CONNECTIONS_MAX_IDLE_MS; default 600000).")
    var idleTimeout: Int?

    @Option(name: .customLong("request-read-timeout-ms"), help: "Close a connection whose started request is not complete within this (env: PAYNODE_REQUEST_READ_TIMEOUT_MS; default 30000).")
    var requestReadTimeout: Int?

    @Option(name: .customLong("max-in-flight-requests"), help: "Requests read ahead per connection before reading pauses (env: PAYNODE_MAX_IN_FLIGHT_REQUESTS; default 5).")
    var maximumInFlightRequests: Int?

    @Option(name: .customLong("max-partitions-per-request"), help: "Partitions one Produce, Fetch or OffsetCommit request may name, and one CreateTopics request may create (env: PAYNODE_MAX_PARTITIONS_PER_REQUEST; default 10000).")
    var maximumPartitionsPerRequest: Int?

    @Option(name: .customLong("max-topics-per-request"), help: "Topics one Metadata request may name (env: PAYNODE_MAX_TOPICS_PER_REQUEST; default 1000).")
    var maximumTopicsPerRequest: Int?

    @Option(name: .customLong("max-partitions-per-topic"), help: "Partitions one topic may have (env: PAYNODE_MAX_PARTITIONS_PER_TOPIC; default 1000).")
    var maximumPartitionsPerTopic: Int?

    @Option(name: .customLong("group-max-size"), help: "Members per consumer group (Kafka's group.max.size; env: PAYNODE_GROUP_MAX_SIZE; default 1000).")
    var groupMaximumSize: Int?

    @Option(name: .customLong("group-max-member-metadata-bytes"), help: "Protocol names plus metadata one member may register (env: PAYNODE_GROUP_MAX_MEMBER_METADATA_BYTES; default 1048576).")
    var groupMaximumMemberMetadata: Int?

    @Option(name: .customLong("max-groups"), help: "Consumer groups per node (env: PAYNODE_MAX_GROUPS; default 10000).")
    var maximumGroups: Int?

    @Option(name: .customLong("offsets-retention-minutes"), help: "Empty groups idle this long lose their committed offsets (Kafka's offsets.retention.minutes; env: PAYNODE_OFFSETS_RETENTION_MINUTES; default 10080).")
    var offsetsRetentionMinutes: Int?

    @Option(name: .customLong("offsets-retention-ms"), help: "The same in milliseconds, for tests and short-lived brokers; wins over the minutes (env: PAYNODE_OFFSETS_RETENTION_MS).")
    var offsetsRetentionMilliseconds: Int?

    @Option(name: .customLong("offsets-retention-check-interval-ms"), help: "How often expired groups are looked for (env: PAYNODE_OFFSETS_RETENTION_CHECK_INTERVAL_MS; default 600000).")
    var offsetsRetentionCheckInterval: Int?

    @Option(name: .customLong("group-initial-rebalance-delay-ms"), help: "Wait after the first member joins an empty group (env: PAYNODE_GROUP_INITIAL_REBALANCE_DELAY_MS; default 500; Kafka uses 3000).")
    var initialRebalanceDelay: Int?

    @Option(name: .customLong("group-min-session-timeout-ms"), help: "Smallest session timeout a consumer may ask for (env: PAYNODE_GROUP_MIN_SESSION_TIMEOUT_MS; default 6000).")
    var minimumSessionTimeout: Int?

    @Option(name: .customLong("group-max-session-timeout-ms"), help: "Largest session timeout a consumer may ask for (env: PAYNODE_GROUP_MAX_SESSION_TIMEOUT_MS; default 1800000).")
    var maximumSessionTimeout: Int?

    @Option(name: .customLong("fetch-max-bytes"), help: "Most bytes one Fetch response carries, whatever the client asks (env: PAYNODE_FETCH_MAX_BYTES; default 52428800, Kafka's fetch.max.bytes).")
    var maximumFetchBytes: Int?

    /// `autoCreateByDefault`: `broker` creates unknown topics on Metadata as Kafka does;
    /// `service` does not, so a client cannot spend the partition budget by asking.
    func resolve(autoCreateByDefault: Bool = true) throws -> KafkaBrokerSettings {
        let listen = try ListenAddress.resolve(self.listen, environment: "PAYNODE_KAFKA_LISTEN", default: ListenAddress(host: "127.0.0.1", port: 9092))
        var advertised = EnvironmentOption.string(advertisedHost, "PAYNODE_ADVERTISED_HOST") ?? listen.host
        // librdkafka may resolve "localhost" to ::1; a wildcard is not an address clients can use.
        if advertised == "0.0.0.0" || advertised == "::" || advertised == "localhost" { advertised = "127.0.0.1" }
        let partitions = try EnvironmentOption.integer(defaultPartitions, "PAYNODE_DEFAULT_PARTITIONS", default: 3)
        guard (1...10_000).contains(partitions) else { throw ValidationError("--default-partitions \(partitions) must be 1 to 10000") }
        let frame = try EnvironmentOption.integer(maximumFrameBytes, "PAYNODE_MAX_FRAME_BYTES", default: 8 << 20)
        guard (1024...Int(Int32.max)).contains(frame) else { throw ValidationError("--max-frame-bytes \(frame) must be 1024 to 2147483647") }
        let autoCreate = try EnvironmentOption.bool(autoCreateTopics, "PAYNODE_AUTO_CREATE_TOPICS", default: autoCreateByDefault)
        func positive(_ flag: Int?, _ name: String, _ variable: String, default fallback: Int) throws -> Int {
            let value = try EnvironmentOption.integer(flag, variable, default: fallback)
            guard value >= 1 else { throw ValidationError("--\(name) \(value) must be at least 1") }
            return value
        }
        var server = KafkaServer.Configuration(host: listen.host, port: listen.port)
        server.maximumFrameSize = frame
        let security = EnvironmentOption.string(securityProtocol, "PAYNODE_KAFKA_SECURITY_PROTOCOL") ?? "PLAINTEXT"
        guard let parsedSecurity = KafkaSecurityProtocol(parsing: security) else {
            throw ValidationError("--kafka-security-protocol \(security) must be one of \(KafkaSecurityProtocol.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        server.securityProtocol = parsedSecurity
        let mechanisms = EnvironmentOption.string(saslEnabledMechanisms, "PAYNODE_SASL_ENABLED_MECHANISMS") ?? "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN"
        guard let parsedMechanisms = SaslMechanism.list(mechanisms) else {
            throw ValidationError("--sasl-enabled-mechanisms \(mechanisms) must list some of \(SaslMechanism.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        server.saslMechanisms = parsedMechanisms
        server.maximumConnections = try positive(maximumConnections, "max-connections", "PAYNODE_MAX_CONNECTIONS", default: 1000)
        server.maximumConnectionsPerAddress = try positive(maximumConnectionsPerAddress, "max-connections-per-ip",
                                                           "PAYNODE_MAX_CONNECTIONS_PER_IP", default: 500)
        // Milliseconds up to a year: TimeAmount is nanoseconds in Int64, so no value here overflows it.
        let year = 366 * 24 * 3_600_000
        let idle = try positive(idleTimeout, "connections-max-idle-ms", "PAYNODE_CONNECTIONS_MAX_IDLE_MS", default: 600_000)
        let read = try positive(requestReadTimeout, "request-read-timeout-ms", "PAYNODE_REQUEST_READ_TIMEOUT_MS", default: 30_000)
        guard idle <= year, read <= year else { throw ValidationError("Kafka connection timeouts must be at most a year") }
        server.idleTimeoutMilliseconds = Int64(idle)
        server.requestReadTimeoutMilliseconds = Int64(read)
        server.maximumInFlightRequests = try positive(maximumInFlightRequests, "max-in-flight-requests", "PAYNODE_MAX_IN_FLIGHT_REQUESTS", default: 5)
        var requestLimits = KafkaRequestLimits()
        requestLimits.maximumPartitionsPerRequest = try positive(maximumPartitionsPerRequest, "max-partitions-per-request",
                                                                 "PAYNODE_MAX_PARTITIONS_PER_REQUEST", default: 10_000)
        requestLimits.maximumTopicsPerRequest = try positive(maximumTopicsPerRequest, "max-topics-per-request",
                                                             "PAYNODE_MAX_TOPICS_PER_REQUEST", default: 1000)
        requestLimits.maximumPartitionsPerTopic = try positive(maximumPartitionsPerTopic, "max-partitions-per-topic",
                                                               "PAYNODE_MAX_PARTITIONS_PER_TOPIC", default: 1000)
        guard partitions <= requestLimits.maximumPartitionsPerTopic else {
            throw ValidationError("--default-partitions \(partitions) is above --max-partitions-per-topic \(requestLimits.maximumPartitionsPerTopic)")
        }
        let maximumMembers = try positive(groupMaximumSize, "group-max-size", "PAYNODE_GROUP_MAX_SIZE", default: 1000)
        let maximumMetadata = try positive(groupMaximumMemberMetadata, "group-max-member-metadata-bytes",
                                           "PAYNODE_GROUP_MAX_MEMBER_METADATA_BYTES", default: 1 << 20)
        var groupLimits = GroupCoordinator.Limits()
        groupLimits.maximumGroups = try positive(maximumGroups, "max-groups", "PAYNODE_MAX_GROUPS", default: 10_000)
        let retention = try positive(offsetsRetentionMinutes, "offsets-retention-minutes", "PAYNODE_OFFSETS_RETENTION_MINUTES", default: 7 * 24 * 60)
        let check = try positive(offsetsRetentionCheckInterval, "offsets-retention-check-interval-ms",
                                 "PAYNODE_OFFSETS_RETENTION_CHECK_INTERVAL_MS", default: 600_000)
        // A century of minutes fits Int64 milliseconds many times over; bounding it keeps the product exact.
        guard retention <= 100 * 366 * 24 * 60, check <= year else {
            throw ValidationError("--offsets-retention-minutes must be at most a century and the check interval at most a year")
        }
        groupLimits.offsetsRetentionMilliseconds = Int64(retention) * 60_000
        if offsetsRetentionMilliseconds != nil || ProcessInfo.processInfo.environment["PAYNODE_OFFSETS_RETENTION_MS"] != nil {
            let milliseconds = try positive(offsetsRetentionMilliseconds, "offsets-retention-ms", "PAYNODE_OFFSETS_RETENTION_MS", default: 1)
            groupLimits.offsetsRetentionMilliseconds = Int64(milliseconds)
        }
        groupLimits.retentionCheckIntervalMilliseconds = Int64(check)
        let fetchBytes = try EnvironmentOption.integer(maximumFetchBytes, "PAYNODE_FETCH_MAX_BYTES", default: 50 << 20)
        // Kafka's frame limit is 2 GiB; leave room for the response headers around the records.
        guard (1024...(1 << 30)).contains(fetchBytes) else { throw ValidationError("--fetch-max-bytes \(fetchBytes) must be 1024 to 1073741824") }
        let delay = try EnvironmentOption.integer(initialRebalanceDelay, "PAYNODE_GROUP_INITIAL_REBALANCE_DELAY_MS", default: 500)
        let minimumSession = try EnvironmentOption.integer(minimumSessionTimeout, "PAYNODE_GROUP_MIN_SESSION_TIMEOUT_MS", default: 6000)
        let maximumSession = try EnvironmentOption.integer(maximumSessionTimeout, "PAYNODE_GROUP_MAX_SESSION_TIMEOUT_MS", default: 1_800_000)
        guard delay >= 0 else { throw ValidationError("--group-initial-rebalance-delay-ms must not be negative") }
        guard minimumSession >= 1, minimumSession <= maximumSession else {
            throw ValidationError("--group-min-session-timeout-ms \(minimumSession) must be between 1 and --group-max-session-timeout-ms \(maximumSession)")
        }
        var access = BrokerAccessControl.Configuration()
        access.allowEveryoneIfNoAclFound = try EnvironmentOption.bool(allowEveryoneIfNoAclFound, "PAYNODE_ALLOW_EVERYONE_IF_NO_ACL_FOUND", default: true)
        access.superUsers = Set(try KafkaPrincipal.parseList(EnvironmentOption.string(superUsers, "PAYNODE_SUPER_USERS") ?? "", flag: "--super-users"))
        var broker = KafkaBroker.Configuration(advertisedHost: advertised, advertisedPort: listen.port, defaultPartitions: partitions,
                                               autoCreateTopics: autoCreate)
        broker.requestLimits = requestLimits
        broker.maximumFetchBytes = fetchBytes
        // A topic may require its values to be one of paynode's event messages (paynode.value.schema).
        broker.valueSchemas = ValueSchemas.checks
        return KafkaBrokerSettings(
            server: server,
            broker: broker,
            groups: .init(initialRebalanceDelayMilliseconds: Int64(delay), minimumSessionTimeoutMilliseconds: Int64(minimumSession),
                          maximumSessionTimeoutMilliseconds: Int64(maximumSession), maximumMembers: maximumMembers,
                          maximumMemberMetadataBytes: maximumMetadata),
            groupLimits: groupLimits, access: access)
    }
}

extension KafkaBrokerSettings {
    /// The group coordinator and the Kafka listener over `store`; the listener reports its
    /// bound port as "kafka" to `readiness`.
    func makeServices(store: LogStore, readiness: Readiness, protectedGroups: Set<String> = [],
                      builtInAcls: [AclBinding] = []) throws -> (GroupCoordinator, KafkaServer) {
        try makeServices(store: store, protectedGroups: protectedGroups, builtInAcls: builtInAcls) { port in
            readiness.bound("kafka", port: port)
        }
    }
}
