import ArgumentParser
import Foundation
import LogStore
import Logging
import Protocol
import ServiceLifecycle

/// `paynode broker`: the Kafka-compatible log alone, a local Kafka for development.
struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run the Kafka-compatible log alone (a local Kafka for development)."
    )

    @OptionGroup var data: DataDirectoryOptions
    @OptionGroup var kafka: KafkaListenerOptions
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
        let kafkaSettings = try kafka.resolve()
        let store = try data.openStore(logLevel: nil)
        defer { store.close() }
        let readiness = Readiness(node: "broker", listeners: ["kafka", "http"], logger: logger)
        let (coordinator, kafkaServer) = try kafkaSettings.makeServices(store: store, readiness: readiness)
        let logGauges = LogGauges(store: store, registry: registry)
        let httpServer = NodeHTTP(readiness: readiness, registry: registry, beforeScrape: logGauges.refresh)
            .server(listen: http, limits: httpConnectionLimits, logger: Logger(label: "paynode.http")) { port in readiness.bound("http", port: port) }
        let group = ServiceGroup(configuration: .init(services: [
            .init(service: coordinator),
            .init(service: kafkaServer),
            .init(service: httpServer),
        ], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("stopped")
    }
}

/// The Kafka listener flags shared by `broker` and `service`.
struct KafkaListenerOptions: ParsableArguments {
    @Option(name: .customLong("kafka-listen"), help: "Kafka listener HOST:PORT (env: PAYNODE_KAFKA_LISTEN; default 127.0.0.1:9092).")
    var listen: ListenAddress?

    @Option(name: .customLong("advertised-host"), help: "Host given to clients in Metadata (env: PAYNODE_ADVERTISED_HOST; default: the listen host, or 127.0.0.1 for a wildcard).")
    var advertisedHost: String?

    @Option(name: .customLong("default-partitions"), help: "Partitions of auto-created topics (env: PAYNODE_DEFAULT_PARTITIONS; default 3).")
    var defaultPartitions: Int?

    @Option(name: .customLong("auto-create-topics"), help: "Create unknown topics named in Metadata requests (env: PAYNODE_AUTO_CREATE_TOPICS; default true).")
    var autoCreateTopics: Bool?

    @Option(name: .customLong("max-frame-bytes"), help: "Largest request a client may send (env: PAYNODE_MAX_FRAME_BYTES; default 104857600).")
    var maximumFrameBytes: Int?

    @Option(name: .customLong("group-initial-rebalance-delay-ms"), help: "Wait after the first member joins an empty group (env: PAYNODE_GROUP_INITIAL_REBALANCE_DELAY_MS; default 500; Kafka uses 3000).")
    var initialRebalanceDelay: Int?

    @Option(name: .customLong("group-min-session-timeout-ms"), help: "Smallest session timeout a consumer may ask for (env: PAYNODE_GROUP_MIN_SESSION_TIMEOUT_MS; default 6000).")
    var minimumSessionTimeout: Int?

    @Option(name: .customLong("group-max-session-timeout-ms"), help: "Largest session timeout a consumer may ask for (env: PAYNODE_GROUP_MAX_SESSION_TIMEOUT_MS; default 1800000).")
    var maximumSessionTimeout: Int?

    struct Resolved {
        var server: KafkaServer.Configuration
        var broker: KafkaBroker.Configuration
        var groups: ConsumerGroup.Configuration

        /// The group coordinator and the Kafka listener over `store`; the listener reports its
        /// bound port as "kafka" to `readiness` and advertises it in Metadata.
        func makeServices(store: LogStore, readiness: Readiness) throws -> (GroupCoordinator, KafkaServer) {
            let coordinator = try GroupCoordinator(store: store, configuration: groups, logger: Logger(label: "paynode.groups"))
            let broker = KafkaBroker(store: store, coordinator: coordinator, configuration: self.broker)
            let listener = KafkaServer(configuration: self.server, broker: broker, logger: Logger(label: "paynode.kafka")) { port in
                broker.setAdvertisedPort(port)
                readiness.bound("kafka", port: port)
            }
            return (coordinator, listener)
        }
    }

    func resolve() throws -> Resolved {
        let listen = try ListenAddress.resolve(self.listen, environment: "PAYNODE_KAFKA_LISTEN", default: ListenAddress(host: "127.0.0.1", port: 9092))
        var advertised = EnvironmentOption.string(advertisedHost, "PAYNODE_ADVERTISED_HOST") ?? listen.host
        // librdkafka may resolve "localhost" to ::1; a wildcard is not an address clients can use.
        if advertised == "0.0.0.0" || advertised == "::" || advertised == "localhost" { advertised = "127.0.0.1" }
        let partitions = try EnvironmentOption.integer(defaultPartitions, "PAYNODE_DEFAULT_PARTITIONS", default: 3)
        guard (1...10_000).contains(partitions) else { throw ValidationError("--default-partitions \(partitions) must be 1 to 10000") }
        let frame = try EnvironmentOption.integer(maximumFrameBytes, "PAYNODE_MAX_FRAME_BYTES", default: 100 << 20)
        guard frame >= 1024 else { throw ValidationError("--max-frame-bytes \(frame) must be at least 1024") }
        let autoCreate = try EnvironmentOption.bool(autoCreateTopics, "PAYNODE_AUTO_CREATE_TOPICS", default: true)
        let delay = try EnvironmentOption.integer(initialRebalanceDelay, "PAYNODE_GROUP_INITIAL_REBALANCE_DELAY_MS", default: 500)
        let minimumSession = try EnvironmentOption.integer(minimumSessionTimeout, "PAYNODE_GROUP_MIN_SESSION_TIMEOUT_MS", default: 6000)
        let maximumSession = try EnvironmentOption.integer(maximumSessionTimeout, "PAYNODE_GROUP_MAX_SESSION_TIMEOUT_MS", default: 1_800_000)
        guard delay >= 0 else { throw ValidationError("--group-initial-rebalance-delay-ms must not be negative") }
        guard minimumSession >= 1, minimumSession <= maximumSession else {
            throw ValidationError("--group-min-session-timeout-ms \(minimumSession) must be between 1 and --group-max-session-timeout-ms \(maximumSession)")
        }
        return Resolved(
            server: .init(host: listen.host, port: listen.port, maximumFrameSize: frame),
            broker: .init(advertisedHost: advertised, advertisedPort: listen.port, defaultPartitions: partitions,
                          autoCreateTopics: autoCreate),
            groups: .init(initialRebalanceDelayMilliseconds: Int64(delay), minimumSessionTimeoutMilliseconds: Int64(minimumSession),
                          maximumSessionTimeoutMilliseconds: Int64(maximumSession)))
    }
}
