import ArgumentParser
import AsyncHTTPClient
import Prometheus
import Foundation
import KafkaClient
import LogStore
import Logging
import PaymentExecutor
import Payments
import ServiceLifecycle

/// `paynode executor`: PaymentOrderExecutor against a service node's Kafka listener.
struct ExecutorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "executor",
        abstract: "Run PaymentOrderExecutor: consume payment orders, call the PSPs, publish PSP results."
    )

    @OptionGroup var data: DataDirectoryOptions
    @OptionGroup var bootstrap: BootstrapOptions
    @OptionGroup var tls: TLSListenerOptions
    @OptionGroup var logging: LoggingOptions
    @OptionGroup var httpLimits: HTTPLimitOptions
    @OptionGroup var psp: PSPOptions

    @Option(name: .customLong("http-listen"), help: "HTTP (metrics, health) listener HOST:PORT (env: PAYNODE_HTTP_LISTEN; default 127.0.0.1:8081).")
    var httpListen: ListenAddress?

    @Option(name: .customLong("psp-latency-ms"), help: "Latency of each simulated PSP call (env: PAYNODE_PSP_LATENCY_MS; default 0).")
    var pspLatency: Int?

    func run() async throws {
        try logging.bootstrap()
        let logger = Logger(label: "paynode.executor")
        let registry = bootstrapMetrics()
        let http = try ListenAddress.resolve(httpListen, environment: "PAYNODE_HTTP_LISTEN", default: ListenAddress(host: "127.0.0.1", port: 8081))
        let httpConnectionLimits = try httpLimits.resolve()
        let servesHTTP2 = try httpLimits.servesHTTP2()
        let tlsContexts = try tls.resolve(kafkaUsesTLS: false,
                                          httpApplicationProtocols: NodeHTTP.applicationProtocols(http2: servesHTTP2))
        let latency = try EnvironmentOption.integer(pspLatency, "PAYNODE_PSP_LATENCY_MS", default: 0)
        guard latency >= 0 else { throw ValidationError("--psp-latency-ms must not be negative") }
        // One HTTPS client for the real PSPs, made only when one is configured.
        var pspClient: HTTPClient?
        let providers = try psp.providers(simulatedLatencyMilliseconds: latency) {
            if let pspClient { return pspClient }
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            pspClient = client
            return client
        }
        for provider in providers where !(provider is SimulatedPSP) {
            logger.info("charging through the real PSP", metadata: ["psp": "\(provider.name)"])
        }
        var configuration = PaymentExecutor.Configuration()
        try psp.applySchedule(to: &configuration)
        let store = try data.openStore(logLevel: nil)
        defer { store.close() }
        let readiness = Readiness(node: "executor", listeners: ["http"], logger: logger)
        let paymentExecutor = PaymentExecutor(
            store: store, client: try bootstrap.client(reconnectAttempts: .max, logger: Logger(label: "paynode.kafka-client")),
            producerClient: try bootstrap.client(reconnectAttempts: .max, logger: Logger(label: "paynode.kafka-client")),
            psps: providers, configuration: configuration, logger: logger)
        let executor = ExecutorService(executor: paymentExecutor)
        let logGauges = LogGauges(store: store, registry: registry)
        let outboxGauge = registry.makeGauge(descriptor: MetricNameDescriptor(
            metricName: "paynode_executor_outbox_entries", unitName: "",
            helpText: "Outbox batches of PSP results waiting for the broker's acknowledgement."))
        let parkedGauge = registry.makeGauge(descriptor: MetricNameDescriptor(
            metricName: "paynode_executor_parked_payments", unitName: "",
            helpText: "PENDING payments waiting for their next follow-up with the PSP."))
        let httpServer = NodeHTTP(readiness: readiness, registry: registry) {
            try logGauges.refresh()
            outboxGauge.set(Double(try paymentExecutor.outboxEntries()))
            parkedGauge.set(Double(paymentExecutor.parkedPayments))
        }
            .server(listen: http, limits: httpConnectionLimits, http2: servesHTTP2, tls: tlsContexts.http,
                    logger: Logger(label: "paynode.http")) { port in readiness.bound("http", port: port) }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: executor),
            .init(service: httpServer),
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
    }
}

/// Runs the executor until the node shuts down; in-flight payments are abandoned safely (the
/// journal resumes them at the next start).
struct ExecutorService: Service {
    let executor: PaymentExecutor

    func run() async throws {
        try await cancelWhenGracefulShutdown { try await executor.run() }
    }
}
