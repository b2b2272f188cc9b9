import ArgumentParser
import Foundation
import LogStore
import Logging
import PaymentService
import Payments
import Protocol
import ServiceLifecycle

/// `paynode service`: PaymentService with its embedded log, served over the Kafka protocol, the
/// payment API over HTTP, and the PspResultUpdateConsumer.
struct ServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "Run PaymentService: embedded log + Kafka listener + payment API + PspResultUpdateConsumer."
    )

    @OptionGroup var data: DataDirectoryOptions
    @OptionGroup var kafka: KafkaListenerOptions
    @OptionGroup var tls: TLSListenerOptions
    @OptionGroup var logging: LoggingOptions
    @OptionGroup var httpLimits: HTTPLimitOptions

    @Option(name: .customLong("http-listen"), help: "HTTP (payment API, metrics, health) listener HOST:PORT (env: PAYNODE_HTTP_LISTEN; default 127.0.0.1:8080).")
    var httpListen: ListenAddress?

    @Option(name: .customLong("order-history-entries"), help: "Most result-history entries one GET /v1/payment-orders/{id} shows; the rest by ?historyCursor= (env: PAYNODE_ORDER_HISTORY_ENTRIES; default 100).")
    var orderHistoryEntries: Int?

    @Option(name: .customLong("topic-partitions"), help: "Partitions of the pipeline's topics when first created (env: PAYNODE_TOPIC_PARTITIONS; default 3).")
    var topicPartitions: Int?

    func run() async throws {
        try logging.bootstrap()
        let logger = Logger(label: "paynode.service")
        let registry = bootstrapMetrics()
        let http = try ListenAddress.resolve(httpListen, environment: "PAYNODE_HTTP_LISTEN", default: ListenAddress(host: "127.0.0.1", port: 8080))
        let partitions = try EnvironmentOption.integer(topicPartitions, "PAYNODE_TOPIC_PARTITIONS", default: 3)
        guard (1...1000).contains(partitions) else { throw ValidationError("--topic-partitions \(partitions) must be 1 to 1000") }
        let historyEntries = try EnvironmentOption.integer(orderHistoryEntries, "PAYNODE_ORDER_HISTORY_ENTRIES",
                                                           default: PaymentService.defaultHistoryPageEntries)
        guard (1...100_000).contains(historyEntries) else { throw ValidationError("--order-history-entries \(historyEntries) must be 1 to 100000") }
        let httpConnectionLimits = try httpLimits.resolve()
        var kafkaSettings = try kafka.resolve(autoCreateByDefault: false)
        let tlsContexts = try tls.resolve(kafkaUsesTLS: kafkaSettings.server.securityProtocol.usesTLS)
        kafkaSettings.server.tls = tlsContexts.kafka
        let store = try data.openStore(logLevel: nil)
        defer { store.close() }
        let service = PaymentService(store: store, logger: Logger(label: "paynode.payments"))
        try await service.ensureTopics(partitions: partitions)
        try await service.ensureOrderStatusCounts()
        let resultPartitions = try store.describe(topic: PaymentTopics.pspResultUpdates)?.partitionCount ?? partitions

        let readiness = Readiness(node: "service", listeners: ["kafka", "http"], logger: logger)
        let (coordinator, kafkaServer) = try kafkaSettings.makeServices(store: store, readiness: readiness,
                                                                          protectedGroups: [PaymentTopics.consumerGroup])
        let logGauges = LogGauges(store: store, registry: registry)
        let orderGauges = OrderGauges(service: service, registry: registry)
        var nodeHTTP = NodeHTTP(readiness: readiness, registry: registry) {
            try logGauges.refresh()
            try orderGauges.refresh()
        }
        PaymentAPI.register(on: nodeHTTP.router, service: service, historyEntries: historyEntries)
        nodeHTTP.overlapKey = PaymentAPI.overlapKey
        let httpServer = nodeHTTP.server(listen: http, limits: httpConnectionLimits, tls: tlsContexts.http,
                                         logger: Logger(label: "paynode.http")) { port in
            readiness.bound("http", port: port)
        }
        let consumer = PspResultUpdateConsumer(service: service, partitions: resultPartitions, logger: Logger(label: "paynode.consumer"))
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: coordinator),
            .init(service: kafkaServer),
            .init(service: consumer),
            .init(service: httpServer),
        ]
        if let reload = tlsContexts.reloadService(logger: Logger(label: "paynode.tls")) { services.append(.init(service: reload)) }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("stopped")
    }
}
