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
        subcommands: [Run.self, Verify.self, Rebuild.self],
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

    /// Event sourcing, checked: the ledger recomputed from `payment-events` and compared with the
    /// live one.
    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the ledger from payment-events offset 0 into a fresh store and compare it with the live one; exit 1 on any difference.",
            discussion: """
            Reads each partition from offset 0 up to the position the live ledger (--data-dir, stopped, or a             copy of it) has reached, posting with the same rules into --into (a new, empty directory), then             compares every account's totals, held amounts and entry counts, the per-currency totals and every             transfer (posted or held, and its content). The rebuilt store is kept: it can replace the live             one. Topics whose early records retention removed cannot be rebuilt from (the log must start at 0).
            """)
        @OptionGroup var options: DataDirectoryOptions
        @OptionGroup var bootstrap: BootstrapOptions
        @Option(name: .customLong("into"), help: "The fresh data directory to rebuild into (must not hold a store).")
        var into: String

        func run() async throws {
            let directory = options.resolvedDataDirectory
            guard FileManager.default.fileExists(atPath: directory + "/data.mdb") else {
                throw ValidationError("no store in \(directory) (data.mdb is missing)")
            }
            guard !FileManager.default.fileExists(atPath: into + "/data.mdb") else {
                throw ValidationError("--into \(into) already holds a store; give a new directory")
            }
            let liveStore = try options.openStore()
            defer { liveStore.close() }
            let live = LedgerStore(store: liveStore)
            let targets = try live.positions()
            let freshStore = try DataDirectoryOptions.parse(["--data-dir", into]).openStore()
            defer { freshStore.close() }
            let rebuilt = LedgerStore(store: freshStore)
            try await rebuilt.ensureTables()
            let client = try bootstrap.client(reconnectAttempts: 3, logger: Logger(label: "paynode.kafka-client"))
            defer { Task { await client.shutdown() } }
            let topic = "payment-events"
            let started = ContinuousClock.now
            var records = 0
            for (partition, end) in targets.sorted(by: { $0.key < $1.key }) {
                var position: Int64 = 0
                while position < end {
                    let result = try await client.fetchPartition(topic: topic, partition: partition, offset: position, maxBytes: 4 << 20)
                    if result.logStartOffset > 0, position == 0 {
                        throw ValidationError("\(topic)-\(partition) starts at \(result.logStartOffset): retention removed records the ledger posted, so it cannot be rebuilt from the log")
                    }
                    guard !result.records.isEmpty || result.undecodable != nil else {
                        throw ValidationError("\(topic)-\(partition) ends at \(result.highWatermark), before the live ledger's position \(end)")
                    }
                    let (next, summary) = try await LedgerConsumer.post(result, from: position, ledger: rebuilt, end: end)
                    records += summary.posted + summary.held + summary.duplicates + summary.conflicts + summary.deadLettered + summary.ignored
                    position = next
                }
            }
            let seconds = Double((ContinuousClock.now - started) / .milliseconds(1)) / 1000
            let differences = try live.differences(from: rebuilt)
            guard differences.isEmpty else {
                print("rebuild DIFFERS from the live ledger (\(differences.count) differences):")
                for difference in differences { print("  \(difference)") }
                throw ExitCode(1)
            }
            let verification = try rebuilt.verify()
            print("rebuild matches the live ledger: \(records) records of \(topic) in \(String(format: "%.2f", seconds)) s, \(verification.entries) entries, \(verification.accounts) accounts (rebuilt store in \(into))")
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
