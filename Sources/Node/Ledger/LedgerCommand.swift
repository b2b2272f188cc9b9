import ArgumentParser
import Foundation
import Ledger
import LogStore
import Logging
import Prometheus
import ServiceLifecycle

/// `paynode ledger`: the double-entry ledger and merchant wallets, fed by `payment-events`.
struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "The ledger: post payment-events as double-entry transfers, keep wallet balances, answer queries.",
        subcommands: [Run.self, Verify.self],
        defaultSubcommand: Run.self
    )

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run the ledger node (the default): consume payment-events, post, serve the query API.")

        @OptionGroup var data: DataDirectoryOptions
        @OptionGroup var bootstrap: BootstrapOptions
        @OptionGroup var tls: TLSListenerOptions
        @OptionGroup var logging: LoggingOptions
        @OptionGroup var httpLimits: HTTPLimitOptions

        @Option(name: .customLong("http-listen"), help: "HTTP (query API, metrics, health) listener HOST:PORT (env: PAYNODE_HTTP_LISTEN; default 127.0.0.1:8082).")
        var httpListen: ListenAddress?

        @Option(name: .customLong("api-token-file"), help: "A file holding the bearer token the query API requires (env: PAYNODE_LEDGER_API_TOKEN; default: none, the API is open to whoever reaches the listener).")
        var apiTokenFile: String?

        func run() async throws {
            try logging.bootstrap()
            let logger = Logger(label: "paynode.ledger")
            let registry = bootstrapMetrics()
            let http = try ListenAddress.resolve(httpListen, environment: "PAYNODE_HTTP_LISTEN", default: ListenAddress(host: "127.0.0.1", port: 8082))
            let token = try Self.token(file: apiTokenFile)
            if token == nil && !["127.0.0.1", "localhost", "::1"].contains(http.host) {
                logger.warning("the ledger's query API has no token (--api-token-file) and listens beyond loopback: anyone who reaches it reads every balance")
            }
            let httpConnectionLimits = try httpLimits.resolve()
            let servesHTTP2 = try httpLimits.servesHTTP2()
            let tlsContexts = try tls.resolve(kafkaUsesTLS: false, httpApplicationProtocols: NodeHTTP.applicationProtocols(http2: servesHTTP2))
            let store = try data.openStore(logLevel: nil)
            defer { store.close() }
            let ledger = LedgerStore(store: store)
            try await ledger.ensureTables()
            let readiness = Readiness(node: "ledger", listeners: ["http"], logger: logger)
            let consumer = LedgerConsumer(ledger: ledger, client: try bootstrap.client(reconnectAttempts: .max, logger: Logger(label: "paynode.kafka-client")),
                                          logger: logger)
            let logGauges = LogGauges(store: store, registry: registry)
            let heldGauge = registry.makeGauge(descriptor: MetricNameDescriptor(
                metricName: "paynode_ledger_held_refunds", unitName: "", helpText: "Refunds waiting for their merchant's wallet to hold enough."))
            let conflictsGauge = registry.makeGauge(descriptor: MetricNameDescriptor(
                metricName: "paynode_ledger_conflicts", unitName: "", helpText: "Transfers recorded as conflicts (same id, other content)."))
            let deadLettersGauge = registry.makeGauge(descriptor: MetricNameDescriptor(
                metricName: "paynode_ledger_dead_letters", unitName: "", helpText: "payment-events records the ledger could not read."))
            // Every outcome's series from the start, so rates and alerts see zeros, not gaps.
            _ = LedgerCounters()
            let node = NodeHTTP(readiness: readiness, registry: registry) {
                try logGauges.refresh()
                let problems = try ledger.recordedProblems()
                heldGauge.set(Double(problems.held))
                conflictsGauge.set(Double(problems.conflicts))
                deadLettersGauge.set(Double(problems.deadLetters))
            }
            LedgerAPI.register(on: node.router, ledger: ledger, token: token)
            let httpServer = node.server(listen: http, limits: httpConnectionLimits, http2: servesHTTP2, tls: tlsContexts.http,
                                         logger: Logger(label: "paynode.http")) { port in readiness.bound("http", port: port) }
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: consumer), .init(service: httpServer)]
            if let reload = tlsContexts.reloadService(logger: Logger(label: "paynode.tls")) { services.append(.init(service: reload)) }
            let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }

        static func token(file: String?) throws -> String? {
            if let file {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw ValidationError("--api-token-file \(file) cannot be read")
                }
                let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
                guard token.utf8.count >= 16 else { throw ValidationError("--api-token-file \(file): the token must be at least 16 characters") }
                return token
            }
            guard let token = ProcessInfo.processInfo.environment["PAYNODE_LEDGER_API_TOKEN"], !token.isEmpty else { return nil }
            guard token.utf8.count >= 16 else { throw ValidationError("PAYNODE_LEDGER_API_TOKEN must be at least 16 characters") }
            return token
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every balance from the entries and check the hash chain and Σ debits = Σ credits; exit 1 on any problem.",
            discussion: """
            The data directory is opened like `paynode store` does, which takes its lock: stop the ledger \
            first, or verify a copy (a `paynode store backup` of it); the running node answers the same \
            check at GET /v1/ledger/verify.
            """)
        @OptionGroup var options: DataDirectoryOptions

        func run() async throws {
            let directory = options.resolvedDataDirectory
            guard FileManager.default.fileExists(atPath: directory + "/data.mdb") else {
                throw ValidationError("no store in \(directory) (data.mdb is missing)")
            }
            let store = try options.openStore()
            defer { store.close() }
            let result = try LedgerStore(store: store).verify()
            let totals = result.totals.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            guard result.ok else {
                print("ledger BROKEN: \(result.problems.count) problems")
                for problem in result.problems { print("  \(problem)") }
                throw ExitCode(1)
            }
            print("ledger OK: \(result.entries) entries, \(result.accounts) accounts, Σ debits = Σ credits (\(totals.isEmpty ? "none" : totals)), head hash \(result.headHash)")
        }
    }
}
