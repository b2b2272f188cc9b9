import ArgumentParser
import Foundation
import KafkaClient
import KafkaClientTLS
import NIOSSL
import Payments
import Protocol
import TLSSupport

/// One run: start (or find) the cluster, drive the load while faults are injected, let the
/// pipeline drain, check, report.
struct LoadtestRun {
    let options: LoadtestCommand

    func run() async throws -> Bool {
        let root = options.workDirectory ?? NSTemporaryDirectory() + "paynode-loadtest-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let output = options.output ?? root + "/loadtest-result.json"
        let chart = options.chart ?? (output.hasSuffix(".json") ? String(output.dropLast(5)) : output) + ".svg"
        log("work directory \(root)")

        // The cluster.
        var cluster: Cluster?
        var proxy: FaultProxy?
        let httpHost: String, httpPort: Int, kafkaAddress: KafkaBrokerAddress
        let usesTLS = options.tls || options.tlsCAFile != nil
        // A cluster of our own: its listener's certificates and SCRAM users, made before it starts.
        let security: ClusterSecurity?
        let tls: NIOSSLContext?
        // The payment API's client: the same trust, and `h2` by ALPN with --http2.
        let httpTLS: NIOSSLContext?
        let httpApplicationProtocols = options.http2 ? ["h2"] : []
        if options.targetHTTP == nil {
            security = try ClusterSecurity.prepare(try options.clusterListener(), root: root, binary: try options.paynodeBinary(),
                                                   caFile: options.tlsCAFile)
            tls = try security?.clientTLS()
            httpTLS = try security?.clientTLS(applicationProtocols: httpApplicationProtocols)
        } else {
            security = nil
            tls = usesTLS ? try ClientTLSFiles(caFile: options.tlsCAFile).makeContext() : nil
            httpTLS = usesTLS ? try ClientTLSFiles(caFile: options.tlsCAFile).makeContext(applicationProtocols: httpApplicationProtocols) : nil
        }
        if let targetHTTP = options.targetHTTP, let targetKafka = options.targetKafka {
            guard let http = KafkaBrokerAddress(targetHTTP), let kafka = KafkaBrokerAddress(targetKafka) else {
                throw ValidationError("--target-http/--target-kafka must be HOST:PORT")
            }
            (httpHost, httpPort, kafkaAddress) = (http.host, http.port, kafka)
            APIKeyHeader.use(options.apiKey ?? ProcessInfo.processInfo.environment["PAYNODE_API_KEY"] ?? APIKeyHeader.devKey())
        } else {
            let nodes = try Cluster(options: .init(
                binary: try options.paynodeBinary(), root: root, startExecutor: options.mode == .full,
                pspLatencyMilliseconds: options.pspLatency, topicPartitions: options.topicPartitions,
                serviceArguments: options.serviceArguments, executorArguments: options.executorArguments, tls: tls,
                security: security ?? .plaintext))
            cluster = nodes
            // Before the service first starts: its store is then opened as usual.
            APIKeyHeader.use(try options.apiKey ?? APIKeyHeader.create(binary: nodes.options.binary, dataDirectory: root + "/service"))
            try await nodes.startService()
            if options.mode == .full {
                var bootstrap = "127.0.0.1:\(nodes.kafkaPort)"
                if options.usesProxy {
                    let faultProxy = FaultProxy(upstreamHost: "127.0.0.1", upstreamPort: nodes.kafkaPort,
                                                settings: .init(latencyMilliseconds: options.proxyLatency, jitterMilliseconds: options.proxyJitter))
                    bootstrap = "127.0.0.1:\(try await faultProxy.start())"
                    proxy = faultProxy
                }
                try await nodes.startExecutor(bootstrap: bootstrap)
            }
            (httpHost, httpPort, kafkaAddress) = ("127.0.0.1", nodes.httpPort, KafkaBrokerAddress(host: "127.0.0.1", port: nodes.kafkaPort))
            log("service ready: http=\(nodes.httpPort) kafka=\(nodes.kafkaPort)" + (proxy != nil ? " (executor through the fault proxy)" : ""))
        }
        defer {
            proxy?.stop()
            cluster?.stop()
        }
        // loadtest's own Kafka clients; `resultConnection` produces PSP results (pipeline mode,
        // poison), which the service applies only from the executor principal's producer ids.
        var connection = KafkaConnection.Configuration()
        let resultConnection: KafkaConnection.Configuration
        if let security, security.listener.usesSASL {
            connection = try security.connection(as: ClusterSecurity.loadtestUser, tls: tls)
            resultConnection = try security.connection(as: ClusterSecurity.executorUser, tls: tls)
        } else {
            try options.kafkaSecurity.apply(to: &connection)
            if let tls {
                connection.securityProtocol = connection.securityProtocol.usesSASL ? .saslSSL : .ssl
                connection.transportSecurity = NIOSSLTransportSecurity(context: tls)
            } else if connection.securityProtocol.usesTLS {
                // --kafka-security-protocol SSL without --tls: the system's trust roots.
                connection.transportSecurity = try NIOSSLTransportSecurity.systemTrustRoots()
            }
            resultConnection = connection
        }
        let kafka = KafkaClient(configuration: KafkaClientConfiguration(
            bootstrapServers: [kafkaAddress], connection: connection, reconnectAttempts: 40, requestRetries: 10))
        defer { Task { await kafka.shutdown() } }
        if options.mode == .recovery, let cluster {
            return try await RecoveryBenchmark(options: options, cluster: cluster, kafka: kafka, output: output).run()
        }
        let api = HTTPClient(host: httpHost, port: httpPort, connections: options.connections, tls: httpTLS, http2: options.http2)
        defer { api.shutdown() }

        let reader = TopicReader(client: kafka)
        _ = try await kafka.metadata(topics: PaymentTopics.all, allowAutoTopicCreation: false)
        let eventsStart = try await reader.endOffsets(of: PaymentTopics.paymentEvents)
        let dlqStart = try await reader.endOffsets(of: PaymentTopics.deadLetters)

        let clock = RunClock()
        let ledger = RunLedger(clock: clock)
        let runId = "lt-\(UUID().uuidString.prefix(8))"
        // A short request timeout: a fetch that waits at most 100 ms and is not answered within
        // 3 s hangs on a dead connection, and latency must not inherit the default 30 s.
        var tailConnection = connection
        tailConnection.requestTimeout = .seconds(3)
        let tailClient = KafkaClient(configuration: KafkaClientConfiguration(
            bootstrapServers: [kafkaAddress], connection: tailConnection, reconnectAttempts: .max))
        let tail = Task { await TerminalEventTail(client: tailClient, ledger: ledger).run(from: eventsStart) }
        let sampler = cluster.map { ResourceSampler(nodes: $0.nodes) }
        let sampling = Task { await sampler?.run() }
        let rate = options.rate > 0 ? options.rate : nil
        let keys = IdempotencyKeys(scheme: options.idempotencyKeys, runId: runId)
        let orderDriver = OrderDriver(client: api, ledger: ledger, mix: options.tokens, keys: keys, concurrency: options.concurrency)
        var fastOrderDriver = PipelinedOrderDriver(host: httpHost, port: httpPort, ledger: ledger, mix: options.tokens, keys: keys,
                                                   connections: options.connections,
                                                   depth: max(1, options.concurrency / max(1, options.connections)))
        fastOrderDriver.tls = tls

        let faults: FaultInjector? = cluster.map { cluster in
            FaultInjector(plan: .init(
                killVictims: options.killVictims, killInterval: options.killInterval,
                resetInterval: options.proxyResetInterval, blackholeInterval: options.proxyBlackholeInterval,
                blackholeMilliseconds: options.proxyBlackholeMilliseconds, diskFullInterval: options.diskFullInterval,
                diskFullSeconds: options.diskFullSeconds, seed: options.seed), cluster: cluster, proxy: proxy, clock: clock)
        }

        // Pipeline mode: every order exists before the first result is produced.
        var resultDriver: ResultDriver?
        var bulkDriver: BulkResultDriver?
        var producerClient: KafkaClient?
        if options.mode == .pipeline {
            let count = options.orders ?? (rate.map { Int($0 * options.duration) } ?? 20_000)
            log("pipeline mode: creating \(count) orders first (no executor runs)")
            let creation = LoadSchedule(ratePerSecond: nil, start: clock.now(), end: .max, maximumOperations: count)
            // HTTP/2's orders go through OrderDriver, a task per request (streams, not a pipeline).
            if options.http2 { await orderDriver.run(schedule: creation) } else { await fastOrderDriver.run(schedule: creation) }
            log("created \(ledger.acceptedCount) orders in \(String(format: "%.1f", Double(clock.now()) / 1e6)) s; producing their PSP results")
            ledger.sent.store(0, ordering: .relaxed)
            let client = KafkaClient(configuration: KafkaClientConfiguration(bootstrapServers: [kafkaAddress], connection: resultConnection,
                                                                             reconnectAttempts: 40))
            producerClient = client
            if rate == nil {
                // As fast as possible: results encoded now, before the clock starts.
                let created = ledger.snapshot().orders.sorted { $0.index < $1.index }
                bulkDriver = try await BulkResultDriver.prepare(orders: created, client: client, ledger: ledger,
                                                                recordsPerBatch: BulkResultDriver.recordsPerBatch)
            } else {
                resultDriver = ResultDriver(producer: try KafkaProducer(client: client, configuration: .init(linger: .milliseconds(2))),
                                            ledger: ledger, concurrency: options.producerConcurrency)
            }
        }

        // The load, with faults alongside.
        let loadStart = clock.now()
        let schedule = LoadSchedule(ratePerSecond: rate, start: loadStart, end: loadStart + UInt64(options.duration * 1_000_000),
                                    maximumOperations: options.orders ?? .max)
        let progress = Task { await ProgressLine(ledger: ledger, plannedSeconds: Double(schedule.end) / 1e6, faults: faults).run() }
        let faulting = Task { await faults?.run() }
        if options.injectPoison > 0 {
            // As the executor, so the poison is dead-lettered for failing to decode (with SASL,
            // loadtest's own principal would be refused earlier, for its producer id).
            let poisoner = KafkaClient(configuration: KafkaClientConfiguration(bootstrapServers: [kafkaAddress], connection: resultConnection,
                                                                               reconnectAttempts: 40))
            try await PoisonInjector(kafka: poisoner).inject(count: options.injectPoison)
            await poisoner.shutdown()
            log("injected \(options.injectPoison) poison records into \(PaymentTopics.pspResultUpdates)")
        }
        if let bulkDriver {
            await bulkDriver.run(schedule: schedule)
        } else if let resultDriver {
            let created = ledger.snapshot().orders.sorted { $0.index < $1.index }
            await resultDriver.run(orders: created, schedule: schedule)
        } else if rate == nil, !options.http2 {
            var driver = fastOrderDriver
            driver.maximumOutstanding = options.maxOutstanding > 0 ? options.maxOutstanding : nil
            await driver.run(schedule: schedule)
        } else {
            await orderDriver.run(schedule: schedule)
        }
        let loadEnd = clock.now()
        faulting.cancel()
        await faulting.value
        log("load done: \(ledger.sent.load(ordering: .relaxed)) sent in \(String(format: "%.1f", Double(loadEnd - loadStart) / 1e6)) s; draining")

        // Drain: every accepted order terminal, and the consumer group caught up.
        let checker = Checker(api: api, kafka: kafka, orders: ledger.snapshot().orders, dlqStart: dlqStart,
                              strictResults: options.strictResults,
                              expectedDeadLetters: options.expectDeadLetters ? options.injectPoison : 0)
        let drainDeadline = ContinuousClock.now + .milliseconds(Int64(options.drainTimeout * 1000))
        var drained = false
        while ContinuousClock.now < drainDeadline {
            if ledger.everyAcceptedOrderTerminal, (try? await checker.groupLag()) == 0 {
                drained = true
                break
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        progress.cancel()
        await progress.value
        tail.cancel()
        await tail.value
        await tailClient.shutdown()
        if let producerClient { await producerClient.shutdown() }
        sampling.cancel()
        await sampling.value
        if !drained { log("not every order became terminal within --drain-timeout \(options.drainTimeout) s") }

        // Check.
        var check: CheckReport?
        if !options.noCheck {
            log("checking \(ledger.acceptedCount) orders against the API, the topics and the group offsets")
            let report = try await checker.check()
            check = report
            var printed: [String: Int] = [:]
            for violation in report.violations {
                printed[violation.kind, default: 0] += 1
                if printed[violation.kind]! <= 50 { print(violation) }
            }
            for (kind, count) in report.violationsByKind where count > 50 { print("... and \(count - 50) more \(kind) violations") }
        }

        // Report.
        let snapshot = ledger.snapshot()
        let analysis = LatencyAnalysis(orders: snapshot.orders)
        let failures = ledger.failures.load(ordering: .relaxed)
        let passed = (check?.passed ?? true) && failures == 0 && drained
        let result = RunResult(
            mode: options.mode.rawValue, scenario: scenario(), startedAt: ISO8601DateFormatter().string(from: Date()),
            durationSeconds: Double(loadEnd - loadStart) / 1e6, ordersAccepted: snapshot.orders.count, ordersFailed: failures,
            requestRetries: ledger.retries.load(ordering: .relaxed), tailErrors: ledger.tailErrors.load(ordering: .relaxed),
            resultsProduced: ledger.resultsProduced.load(ordering: .relaxed),
            completed: analysis.completed, offeredPerSecond: rate, throughputPerSecond: analysis.throughputPerSecond,
            latency: LatencySummary(analysis.histogram), nodes: sampler?.current() ?? [],
            restarts: faults?.killCounts ?? [:],
            recoverySeconds: Dictionary(uniqueKeysWithValues: (cluster?.nodes ?? []).map { ($0.role, Array($0.readyTimes.dropFirst())) }),
            faults: faults?.log ?? [],
            proxy: proxy.map { ["accepted": $0.accepted.load(ordering: .relaxed), "resets": $0.resets.load(ordering: .relaxed),
                                "blackholes": $0.blackholes.load(ordering: .relaxed)] } ?? [:],
            perSecond: analysis.perSecond, check: check, passed: passed)
        try result.write(to: output)
        try LatencyChart.svg(result).write(toFile: chart, atomically: true, encoding: .utf8)
        printSummary(result, output: output, chart: chart)
        if passed, !options.keepData, options.workDirectory == nil, options.output == nil {
            // Results live in the work directory by default: keep it; only data directories go.
            try? FileManager.default.removeItem(atPath: root + "/service")
            try? FileManager.default.removeItem(atPath: root + "/executor")
        }
        return passed
    }

    private func scenario() -> [String: String] {
        var scenario: [String: String] = [
            "mode": options.mode.rawValue, "rate": options.rate > 0 ? String(options.rate) : "max",
            "duration": String(options.duration), "tokens": options.tokens.description,
            "concurrency": String(options.concurrency), "connections": String(options.connections),
            "idempotencyKeys": options.idempotencyKeys.rawValue,
            "pspLatencyMs": String(options.pspLatency), "seed": String(options.seed),
        ]
        if options.maxOutstanding > 0 { scenario["maxOutstanding"] = String(options.maxOutstanding) }
        if let kill = options.kill { scenario["kill"] = "\(kill) every \(options.killInterval) s" }
        if options.usesProxy {
            scenario["proxy"] = "latency \(options.proxyLatency) ms, jitter \(options.proxyJitter) ms, resets \(options.proxyResetInterval?.description ?? "-") s, blackhole \(options.proxyBlackholeMilliseconds) ms every \(options.proxyBlackholeInterval?.description ?? "-") s"
        }
        if let disk = options.diskFullInterval { scenario["diskFull"] = "\(options.diskFullSeconds) s every \(disk) s" }
        if let orders = options.orders { scenario["orders"] = String(orders) }
        return scenario
    }

    private func printSummary(_ result: RunResult, output: String, chart: String) {
        var lines = [
            "",
            "paynode loadtest \(result.mode): \(result.passed ? "PASSED" : "FAILED")",
            String(format: "  load         %.1f s, %d orders accepted, %d failed, %d retried requests%@", result.durationSeconds,
                   result.ordersAccepted, result.ordersFailed, result.requestRetries,
                   result.resultsProduced > 0 ? ", \(result.resultsProduced) PSP results produced" : ""),
            String(format: "  throughput   %.0f completed/s%@", result.throughputPerSecond,
                   result.offeredPerSecond.map { String(format: " (offered %.0f/s)", $0) } ?? " (as fast as possible)"),
            "  latency      \(result.latency.line)",
        ]
        for node in result.nodes {
            lines.append(String(format: "  %-12@ CPU %.1f s (peak %.2f cores), RSS max %.0f MB (anonymous %.0f MB)", node.node, node.cpuSeconds,
                                node.peakCores, node.maxRSSMegabytes, node.maxAnonymousRSSMegabytes))
        }
        if !result.restarts.isEmpty {
            let recovery = result.recoverySeconds.filter { !$0.value.isEmpty }.map { "\($0.key) max \(String(format: "%.2f", $0.value.max() ?? 0)) s" }
            lines.append("  faults       kills \(result.restarts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); ready again: \(recovery.joined(separator: ", "))")
        }
        if !result.proxy.isEmpty { lines.append("  proxy        \(result.proxy.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))") }
        if let check = result.check {
            lines.append("  checker      \(check.ordersChecked) orders; \(check.violations.count) violations \(check.violationsByKind.isEmpty ? "" : "\(check.violationsByKind)")")
            lines.append("               psp-result-updates \(check.pspResultRecords) records (\(check.duplicateResultRecords) duplicate copies in \(check.ordersWithDuplicateResults) orders\(options.strictResults ? ", strict" : ", reported, not a violation with --no-strict-results")), payment-events \(check.paymentEventRecords), dead letters \(check.deadLetters), group lag \(check.groupLag)")
            lines.append("               audit trail: \(check.auditTrail)")
        }
        lines.append("  result       \(output)")
        lines.append("  chart        \(chart)")
        print(lines.joined(separator: "\n"))
    }
}

func log(_ message: String) {
    FileHandle.standardError.write(Data("loadtest: \(message)\n".utf8))
}
