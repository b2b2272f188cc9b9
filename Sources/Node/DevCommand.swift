import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOHTTP1
import NIOSSL
import TLSSupport

/// `paynode dev`: the whole pipeline on one machine, as separate processes talking over TCP:
/// `paynode service` (embedded log, Kafka listener, payment API, consumer) and `paynode executor`
/// (with the simulated Stripe and Adyen). With `--demo-orders N` it pushes N orders across every
/// payment-method token through the HTTP API, waits for each to become terminal, prints a
/// summary and stops; otherwise it runs until Ctrl-C.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run service + executor + simulated PSPs locally; --demo-orders N pushes a demo load through and prints a summary."
    )

    @Option(name: .customLong("data-dir"), help: "Parent of the service/ and executor/ data directories (env: PAYNODE_DATA_DIR; default ./data/dev).")
    var dataDirectory: String?
    @Option(name: .customLong("kafka-listen"), help: "The service's Kafka listener (default 127.0.0.1:9092).")
    var kafkaListen = ListenAddress(host: "127.0.0.1", port: 9092)
    @Option(name: .customLong("http-listen"), help: "The service's HTTP listener: payment API (default 127.0.0.1:8080).")
    var httpListen = ListenAddress(host: "127.0.0.1", port: 8080)

    @Option(name: .customLong("ops-listen"), help: "The service's ops listener: metrics and health without a key (default 127.0.0.1:9464).")
    var opsListen = APIAuthOptions.defaultOpsListen
    @Option(name: .customLong("executor-http-listen"), help: "The executor's HTTP listener (default 127.0.0.1:8081).")
    var executorHTTPListen = ListenAddress(host: "127.0.0.1", port: 8081)

    @Option(name: .customLong("ledger-http-listen"), help: "The ledger's HTTP listener: balances, entries, metrics (default 127.0.0.1:8082).")
    var ledgerHTTPListen = ListenAddress(host: "127.0.0.1", port: 8082)
    @Option(name: .customLong("psp-latency-ms"), help: "Latency of each simulated PSP call (default 0).")
    var pspLatency = 0
    @Option(name: .customLong("demo-orders"), help: "Push this many orders through, print a summary and stop (default 0: keep running).")
    var demoOrders = 0
    @Flag(name: .customLong("no-tls"), help: "Serve Kafka and the payment API in plaintext (default: TLS with a development CA in <data-dir>/certs).")
    var plaintext = false

    static let tokens = ["tok_visa", "tok_chargeDeclined", "tok_insufficientFunds", "tok_pending", "tok_flaky", "tok_unknown"]

    func run() async throws {
        let root = dataDirectory ?? ProcessInfo.processInfo.environment["PAYNODE_DATA_DIR"] ?? "./data/dev"
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).path
        let certificates = plaintext ? nil : try Self.developmentCertificates(in: root + "/certs")
        // SASL on the Kafka listener (SASL_SSL, or SASL_PLAINTEXT with --no-tls): the executor
        // authenticates as User:executor, the one principal whose results the service applies.
        let users = try await DevUsers.ensure(root: root, serviceDirectory: root + "/service")
        let security = certificates == nil ? "SASL_PLAINTEXT" : "SASL_SSL"
        var serviceTLS = ["--kafka-security-protocol", security]
        var executorTLS = ["--kafka-security-protocol", security, "--sasl-mechanism", "SCRAM-SHA-512",
                           "--sasl-username", "executor", "--sasl-password-file", users["executor"] ?? ""]
        var ledgerTLS = ["--kafka-security-protocol", security, "--sasl-mechanism", "SCRAM-SHA-512",
                         "--sasl-username", "ledger", "--sasl-password-file", users["ledger"] ?? ""]
        if let certificates {
            serviceTLS += ["--tls-cert-file", certificates.serverCertificate, "--tls-key-file", certificates.serverKey, "--http-tls"]
            executorTLS += ["--tls-ca-file", certificates.caCertificate]
            ledgerTLS += ["--tls-ca-file", certificates.caCertificate]
        }
        let apiKey = try await DevAPIKey.ensure(root: root, serviceDirectory: root + "/service")
        let service = try Child.start(executable, ["service", "--data-dir", root + "/service", "--kafka-listen", kafkaListen.description,
                                                   "--http-listen", httpListen.description, "--ops-listen", opsListen.description,
                                                   "--log-level", "warning"] + serviceTLS,
                                      ready: "paynode service ready")
        defer { service.stop() }
        let executor = try Child.start(executable, ["executor", "--data-dir", root + "/executor", "--bootstrap-servers", kafkaListen.description,
                                                    "--http-listen", executorHTTPListen.description, "--psp-latency-ms", String(pspLatency),
                                                    "--log-level", "error"] + executorTLS, ready: "paynode executor ready")
        defer { executor.stop() }
        let ledger = try Child.start(executable, ["ledger", "--data-dir", root + "/ledger", "--bootstrap-servers", kafkaListen.description,
                                                  "--http-listen", ledgerHTTPListen.description, "--log-level", "error"] + ledgerTLS,
                                     ready: "paynode ledger ready")
        defer { ledger.stop() }
        let api = DevAPI(address: httpListen, apiKey: apiKey,
                         tls: try certificates.map { try ClientTLSFiles(caFile: $0.caCertificate).makeContext() })
        let keyHelp = """
                        (needs the API key: an admin key, kept in \(root)/api-key)
                        export PAYNODE_API_KEY=$(cat \(root)/api-key)
        """
        if let certificates {
            print("""
            paynode dev is running (data in \(root), TLS with the development CA \(certificates.caCertificate), SASL/SCRAM users in \(root)/credentials)
              payment API   \(api.base)/v1/payment-orders \(keyHelp)
                            curl --cacert \(certificates.caCertificate) -H "Authorization: Bearer $PAYNODE_API_KEY" \(api.base)/v1/payment-orders
              Kafka (SASL_SSL) \(kafkaListen), user dev, password in \(users["dev"] ?? "")
                            kcat -b \(kafkaListen) -X security.protocol=SASL_SSL -X ssl.ca.location=\(certificates.caCertificate) \\
                              -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=dev -X sasl.password=$(cat \(users["dev"] ?? "")) -L
                            confluent-kafka: {"bootstrap.servers": "\(kafkaListen)", "security.protocol": "SASL_SSL", "ssl.ca.location": "\(certificates.caCertificate)",
                                              "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "dev", "sasl.password": "<the password file's line>"}
              ledger        http://\(ledgerHTTPListen)/v1/accounts, /v1/accounts/merchant:EUR:<merchantId>/transactions, /v1/ledger/verify
              metrics       http://\(opsListen)/metrics, http://\(executorHTTPListen)/metrics, http://\(ledgerHTTPListen)/metrics
            """)
        } else {
            print("""
            paynode dev is running (data in \(root))
              payment API   \(api.base)/v1/payment-orders \(keyHelp)
                            curl -H "Authorization: Bearer $PAYNODE_API_KEY" \(api.base)/v1/payment-orders
              Kafka (SASL_PLAINTEXT) \(kafkaListen), user dev, password in \(users["dev"] ?? "")
                            kcat -b \(kafkaListen) -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=SCRAM-SHA-512 \\
                              -X sasl.username=dev -X sasl.password=$(cat \(users["dev"] ?? "")) -L
              ledger        http://\(ledgerHTTPListen)/v1/accounts, /v1/accounts/merchant:EUR:<merchantId>/transactions, /v1/ledger/verify
              metrics       http://\(opsListen)/metrics, http://\(executorHTTPListen)/metrics, http://\(ledgerHTTPListen)/metrics
            """)
        }
        fflushStandardOutput()
        guard demoOrders > 0 else {
            await Child.waitForInterrupt()
            return
        }
        try await demo(api: api)
    }

    /// The development CA and certificates under `directory`, written on first start.
    static func developmentCertificates(in directory: String) throws -> DevelopmentCertificates.Layout {
        let layout = DevelopmentCertificates.Layout(directory: directory)
        guard !layout.isComplete else { return layout }
        do {
            // A partial set (an interrupted first start) is replaced whole: nothing trusts it yet.
            try DevelopmentCertificates.write(into: layout, overwrite: true)
        } catch let error as TLSConfigurationError {
            throw ValidationError(error.message)
        }
        print("wrote a development CA and certificates to \(directory)")
        return layout
    }

    private func demo(api: DevAPI) async throws {
        let run = UUID().uuidString.prefix(8)
        let started = Date()
        let ids: [(String, String)] = try await withThrowingTaskGroup(of: (String, String).self) { group in
            var ids: [(String, String)] = []
            for index in 0..<demoOrders {
                if index >= 16, let done = try await group.next() { ids.append(done) }
                group.addTask {
                    let token = Self.tokens[index % Self.tokens.count]
                    let body = #"{"merchantId":"m_demo","amount":\#(1000 + index),"currency":"EUR","paymentMethod":"\#(token)","psp":"\#(index % 2 == 0 ? "stripe" : "adyen")"}"#
                    let (status, json) = try await api.send(.POST, "/v1/payment-orders", body: body, headers: ["Idempotency-Key": "demo-\(run)-\(index)"])
                    guard status == 201, let id = json["paymentOrderId"] as? String else {
                        throw ValidationError("creating a demo order failed with HTTP \(status): \(json)")
                    }
                    return (id, token)
                }
            }
            for try await done in group { ids.append(done) }
            return ids
        }
        var byStatus: [String: Int] = [:]
        var succeeded: [(id: String, amount: Int64, psp: String)] = []
        var latencies: [Int64] = []
        var remaining = ids
        let deadline = Date().addingTimeInterval(120)
        while !remaining.isEmpty, Date() < deadline {
            var stillPending: [(String, String)] = []
            for (id, token) in remaining {
                let (_, order) = try await api.send(.GET, "/v1/payment-orders/\(id)")
                let status = order["status"] as? String ?? "?"
                if status == "PENDING" {
                    stillPending.append((id, token))
                } else {
                    byStatus["\(status) (\(token))", default: 0] += 1
                    if status == "SUCCESSFUL", let amount = (order["amount"] as? NSNumber)?.int64Value, let psp = order["psp"] as? String {
                        succeeded.append((id, amount, psp))
                    }
                    if let created = order["createdAt"] as? Int64 ?? (order["createdAt"] as? NSNumber)?.int64Value,
                       let updated = order["updatedAt"] as? Int64 ?? (order["updatedAt"] as? NSNumber)?.int64Value {
                        latencies.append(updated - created)
                    }
                }
            }
            remaining = stillPending
            if !remaining.isEmpty { try await Task.sleep(for: .milliseconds(200)) }
        }
        let elapsed = Date().timeIntervalSince(started)
        latencies.sort()
        func percentile(_ p: Double) -> Int64 { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        print("demo: \(ids.count) orders in \(String(format: "%.2f", elapsed)) s (\(Int(Double(ids.count) / max(elapsed, 0.001))) orders/s end to end)")
        for (status, count) in byStatus.sorted(by: { $0.key < $1.key }) {
            print("  \(status): \(count)")
        }
        if !remaining.isEmpty { print("  still PENDING after 120 s: \(remaining.count)") }
        print("  order created -> terminal state committed: p50 \(percentile(0.5)) ms, p99 \(percentile(0.99)) ms, max \(latencies.last ?? 0) ms")
        if !remaining.isEmpty { throw ExitCode(1) }
        try await refundsAndBalances(api: api, run: String(run), succeeded: succeeded)
    }

    /// Refunds half of a few successful orders, then waits for the ledger to have posted every
    /// success and refund and prints each account's balance and the ledger's own check.
    private func refundsAndBalances(api: DevAPI, run: String, succeeded: [(id: String, amount: Int64, psp: String)]) async throws {
        var refunded: [String: Int64] = [:]
        for order in succeeded.prefix(5) {
            let (status, json) = try await api.send(.POST, "/v1/payment-orders/\(order.id)/refunds", body: #"{"amount":\#(order.amount / 2)}"#,
                                                    headers: ["Idempotency-Key": "demo-\(run)-refund-\(order.id)"])
            guard status == 201 else { throw ValidationError("refunding a demo order failed with HTTP \(status): \(json)") }
            refunded[order.psp, default: 0] += order.amount / 2
        }
        let expected = succeeded.reduce(Int64(0)) { $0 + $1.amount } - refunded.values.reduce(0, +)
        let ledger = DevAPI(address: ledgerHTTPListen, apiKey: "", tls: nil)
        let deadline = Date().addingTimeInterval(60)
        var accounts: [[String: Any]] = []
        while Date() < deadline {
            accounts = (try await ledger.send(.GET, "/v1/accounts").1["accounts"] as? [[String: Any]]) ?? []
            let wallet = accounts.first { $0["account"] as? String == "merchant:EUR:m_demo" }
            if (wallet?["balance"] as? NSNumber)?.int64Value == expected { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        print("refunds: \(min(5, succeeded.count)) successful orders refunded by half")
        print("ledger (double entry, from payment-events):")
        for account in accounts {
            print("  \(account["account"] as? String ?? "?"): balance \((account["balance"] as? NSNumber)?.int64Value ?? 0), \((account["entries"] as? NSNumber)?.intValue ?? 0) entries")
        }
        let (_, verification) = try await ledger.send(.GET, "/v1/ledger/verify")
        let sound = verification["ok"] as? Bool == true
        print("  verify: \(sound ? "OK" : "BROKEN"), \((verification["entries"] as? NSNumber)?.intValue ?? 0) entries, Σ debits = Σ credits")
        let wallet = accounts.first { $0["account"] as? String == "merchant:EUR:m_demo" }
        guard sound, (wallet?["balance"] as? NSNumber)?.int64Value == expected else {
            print("  the wallet of m_demo should hold \(expected)")
            throw ExitCode(1)
        }
    }

}

/// The service's payment API as the demo calls it: HTTPS verified against the development CA,
/// or plain HTTP with `--no-tls`.
struct DevAPI: Sendable {
    let address: ListenAddress
    /// The dev admin key, sent as `Authorization: Bearer` on every request.
    let apiKey: String
    let tls: NIOSSLContext?

    var base: String { "\(tls == nil ? "http" : "https")://\(address)" }

    func send(_ method: HTTPMethod, _ path: String, body: String? = nil, headers: [String: String] = [:]) async throws -> (Int, [String: Any]) {
        var headers = headers
        headers["Content-Type"] = "application/json"
        headers["Authorization"] = "Bearer \(apiKey)"
        let (status, data) = try await OneShotHTTPClient.send(method: method, host: address.host, port: address.port, path: path,
                                                              body: body, headers: headers, tls: tls)
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return (status, json)
    }
}

/// A child node process: started, waited for until it prints its ready line, stopped with SIGTERM.
final class Child: @unchecked Sendable {
    let process = Process()

    static func start(_ executable: String, _ arguments: [String], ready: String) throws -> Child {
        let child = Child()
        let output = Pipe()
        child.process.executableURL = URL(fileURLWithPath: executable)
        child.process.arguments = arguments
        child.process.standardOutput = output
        try child.process.run()
        var buffer = Data()
        while !String(decoding: buffer, as: UTF8.self).contains(ready) {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else {
                throw ValidationError("\(arguments.first ?? "node") exited before it was ready (status \(child.process.terminationStatus))")
            }
            buffer.append(chunk)
        }
        return child
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }

    /// Returns on SIGINT or SIGTERM.
    static func waitForInterrupt() async {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumed = ResumeOnce(continuation)
            for signalNumber in [SIGINT, SIGTERM] {
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .main)
                source.setEventHandler { resumed.resume() }
                source.resume()
                ResumeOnce.keep(source)
            }
        }
    }
}

private final class ResumeOnce: @unchecked Sendable {
    private var continuation: CheckedContinuation<Void, Never>?
    private let lock = NSLock()
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = continuation }

    func resume() {
        lock.lock()
        let continuation = self.continuation
        self.continuation = nil
        lock.unlock()
        continuation?.resume()
    }

    static func keep(_ source: any DispatchSourceSignal) { sources.append(source) }
}
