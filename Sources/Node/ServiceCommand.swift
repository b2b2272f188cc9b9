import ArgumentParser
import AsyncHTTPClient
import Foundation
import LogStore
import Logging
import PaymentHTTP
import PaymentService
import Payments
import Protocol
import PSPAdapters
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
    @OptionGroup var auth: APIAuthOptions
    @OptionGroup var webhooks: WebhookOptions

    @Option(name: .customLong("http-listen"), help: "HTTP (payment API, metrics, health) listener HOST:PORT (env: PAYNODE_HTTP_LISTEN; default 127.0.0.1:8080).")
    var httpListen: ListenAddress?

    @Option(name: .customLong("order-history-entries"), help: "Most result-history entries one GET /v1/payment-orders/{id} shows; the rest by ?historyCursor= (env: PAYNODE_ORDER_HISTORY_ENTRIES; default 100).")
    var orderHistoryEntries: Int?

    @Option(name: .customLong("max-refunds-per-order"), help: "Most refunds one order may have (env: PAYNODE_MAX_REFUNDS_PER_ORDER; default 100).")
    var maxRefundsPerOrder: Int?

    @Option(name: .customLong("topic-partitions"), help: "Partitions of the pipeline's topics when first created (env: PAYNODE_TOPIC_PARTITIONS; default 3).")
    var topicPartitions: Int?

    @Option(name: .customLong("executor-principal"), help: "The only principal whose PSP results are applied and who may write psp-result-updates (env: PAYNODE_EXECUTOR_PRINCIPAL; default User:executor).")
    var executorPrincipal: String?

    @Option(name: .customLong("event-reader-principals"), help: "Principals that may read payment-events and the dead letters, comma-separated (env: PAYNODE_EVENT_READER_PRINCIPALS; default User:*, everyone).")
    var eventReaderPrincipals: String?

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
        let refundsPerOrder = try EnvironmentOption.integer(maxRefundsPerOrder, "PAYNODE_MAX_REFUNDS_PER_ORDER",
                                                            default: PaymentService.defaultMaximumRefundsPerOrder)
        guard (1...RefundID.maximumNumber).contains(refundsPerOrder) else {
            throw ValidationError("--max-refunds-per-order \(refundsPerOrder) must be 1 to \(RefundID.maximumNumber)")
        }
        let httpConnectionLimits = try httpLimits.resolve()
        let authRequired = try auth.authenticationRequired()
        let authSettings = try auth.settings()
        let ops = try auth.opsAddress()
        var kafkaSettings = try kafka.resolve(autoCreateByDefault: false)
        let servesHTTP2 = try httpLimits.servesHTTP2()
        let tlsContexts = try tls.resolve(kafkaUsesTLS: kafkaSettings.server.securityProtocol.usesTLS,
                                          httpApplicationProtocols: NodeHTTP.applicationProtocols(http2: servesHTTP2))
        kafkaSettings.server.tls = tlsContexts.kafka
        // The pipeline's topics are its system of record: never deleted, grown or truncated by a client.
        kafkaSettings.broker.protectedTopics = Set(PaymentTopics.all)
        let executorText = EnvironmentOption.string(executorPrincipal, "PAYNODE_EXECUTOR_PRINCIPAL") ?? "User:executor"
        guard let executor = KafkaPrincipal(parsing: executorText) else {
            throw ValidationError("--executor-principal \"\(executorText)\" is not a principal (Type:name, e.g. User:executor)")
        }
        let readers = try KafkaPrincipal.parseList(EnvironmentOption.string(eventReaderPrincipals, "PAYNODE_EVENT_READER_PRINCIPALS") ?? "User:*",
                                                   flag: "--event-reader-principals")
        if !kafkaSettings.server.securityProtocol.usesSASL && executor != .anonymous {
            logger.warning("the Kafka listener does not authenticate, so no client is \(executor): PSP results will be refused until the executor authenticates (SASL) or --executor-principal User:ANONYMOUS accepts unauthenticated ones",
                           metadata: ["securityProtocol": "\(kafkaSettings.server.securityProtocol)"])
        } else if executor == .anonymous {
            logger.warning("--executor-principal User:ANONYMOUS: any client that reaches the Kafka listener can report PSP results")
        }
        let store = try data.openStore(logLevel: nil)
        defer { store.close() }
        let webhookSettings = try webhooks.resolve()
        // Results from verified webhooks are published as the node's own Webhook:<psp> producers.
        let resultProducers = [executor.description] + (webhookSettings.isEnabled ? WebhookResultPublisher.principals : [])
        let service = PaymentService(store: store, logger: Logger(label: "paynode.payments"), resultProducers: Set(resultProducers),
                                     maximumRefundsPerOrder: refundsPerOrder)
        try await service.ensureTopics(partitions: partitions)
        try await service.ensureTables()
        let resultPartitions = try store.describe(topic: PaymentTopics.pspResultUpdates)?.partitionCount ?? partitions
        // Always: the tables exist before `paynode apikeys` may add to them while this runs.
        let hasher = try await APIKeyStore.prepare(store)
        var authenticator: APIAuthenticator?
        if authRequired {
            authenticator = APIAuthenticator(store: store, hasher: hasher, settings: authSettings, logger: Logger(label: "paynode.auth"))
            if try APIKeyStore.list(in: store).allSatisfy({ $0.revokedAt != nil }) {
                logger.warning("no usable API key: every payment API request will be refused until one is created with `paynode apikeys create`")
            }
        } else {
            logger.warning("HTTP authentication is off (--http-auth off): anyone who reaches the HTTP listener can create and read every merchant's orders")
        }
        let gate = APIGate(authenticator: authenticator)

        let readiness = Readiness(node: "service", listeners: ["kafka", "http", "ops"], logger: logger)
        let (coordinator, kafkaServer) = try kafkaSettings.makeServices(store: store, readiness: readiness,
                                                                          protectedGroups: [PaymentTopics.consumerGroup],
                                                                          builtInAcls: PaymentAccessDefaults.bindings(executor: executor, eventReaders: readers))
        let logGauges = LogGauges(store: store, registry: registry)
        let orderGauges = OrderGauges(service: service, registry: registry)
        let refreshGauges: @Sendable () throws -> Void = {
            try logGauges.refresh()
            try orderGauges.refresh()
        }
        // Metrics and health: open on the ops listener; on the main one only with an admin key.
        var nodeHTTP = NodeHTTP(readiness: readiness, registry: registry, beforeScrape: refreshGauges, admit: { request in
            guard case .refused(let error) = gate.admit(request, needs: .admin) else { return nil }
            return PaymentAPI.response(APIReply(error))
        })
        let opsHTTP = NodeHTTP(readiness: readiness, registry: registry, beforeScrape: refreshGauges)
        PaymentAPI.register(on: nodeHTTP.router, service: service, gate: gate, historyEntries: historyEntries)
        var pspClient: HTTPClient?
        if webhookSettings.isEnabled {
            let publisher = try await WebhookResultPublisher.prepare(store: store)
            var statusQuery: WebhookStatusQuery?
            if let stripe = webhookSettings.stripeStatusQuery {
                let client = HTTPClient(eventLoopGroupProvider: .singleton)
                pspClient = client
                do {
                    statusQuery = WebhookStatusQuery(stripe: try StripePSP(configuration: .init(baseURL: stripe.url, secretKey: stripe.key), client: client),
                                                     publisher: publisher, logger: Logger(label: "paynode.webhooks"))
                } catch {
                    try? await client.shutdown()
                    throw ValidationError("--stripe-api-url: \(error)")
                }
            }
            WebhookRoutes.register(on: nodeHTTP.router, settings: webhookSettings, publisher: publisher, statusQuery: statusQuery,
                                   logger: Logger(label: "paynode.webhooks"))
        }
        nodeHTTP.overlapKey = PaymentAPI.overlapKey
        let httpServer = nodeHTTP.server(listen: http, limits: httpConnectionLimits, http2: servesHTTP2, tls: tlsContexts.http,
                                         logger: Logger(label: "paynode.http")) { port in
            readiness.bound("http", port: port)
        }
        let opsServer = opsHTTP.server(listen: ops, limits: httpConnectionLimits, http2: servesHTTP2, logger: Logger(label: "paynode.ops")) { port in
            readiness.bound("ops", port: port)
        }
        let consumer = PspResultUpdateConsumer(service: service, partitions: resultPartitions, logger: Logger(label: "paynode.consumer"))
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: coordinator),
            .init(service: kafkaServer),
            .init(service: consumer),
            .init(service: httpServer),
            .init(service: opsServer),
        ]
        if let reload = tlsContexts.reloadService(logger: Logger(label: "paynode.tls")) { services.append(.init(service: reload)) }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            try? await pspClient?.shutdown()
            throw error
        }
        try? await pspClient?.shutdown()
        logger.info("stopped")
    }
}
