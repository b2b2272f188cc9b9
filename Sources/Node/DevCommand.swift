import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

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
    @Option(name: .customLong("psp-latency-ms"), help: "Latency of each simulated PSP call (default 0).")
    var pspLatency = 0
    @Option(name: .customLong("demo-orders"), help: "Push this many orders through, print a summary and stop (default 0: keep running).")
    var demoOrders = 0

    static let tokens = ["tok_visa", "tok_chargeDeclined", "tok_insufficientFunds", "tok_pending", "tok_flaky", "tok_unknown"]

    func run() async throws {
        let root = dataDirectory ?? ProcessInfo.processInfo.environment["PAYNODE_DATA_DIR"] ?? "./data/dev"
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).path
        let apiKey = try await DevAPIKey.ensure(root: root, serviceDirectory: root + "/service")
        // The executor connects without SASL, so the service must accept User:ANONYMOUS's results.
        let service = try Child.start(executable, ["service", "--data-dir", root + "/service", "--kafka-listen", kafkaListen.description,
                                                   "--executor-principal", "User:ANONYMOUS",
                                                   "--http-listen", httpListen.description, "--ops-listen", opsListen.description,
                                                   "--log-level", "warning"], ready: "paynode service ready")
        defer { service.stop() }
        let executor = try Child.start(executable, ["executor", "--data-dir", root + "/executor", "--bootstrap-servers", kafkaListen.description,
                                                    "--http-listen", executorHTTPListen.description, "--psp-latency-ms", String(pspLatency),
                                                    "--log-level", "error"], ready: "paynode executor ready")
        defer { executor.stop() }
        let api = "http://\(httpListen)"
        print("""
        paynode dev is running (data in \(root))
          payment API   \(api)/v1/payment-orders   (needs the API key: an admin key, kept in \(root)/api-key)
                        export PAYNODE_API_KEY=$(cat \(root)/api-key)
                        curl -H "Authorization: Bearer $PAYNODE_API_KEY" \(api)/v1/payment-orders
          Kafka         \(kafkaListen)   (kcat -b \(kafkaListen) -L)
          metrics       http://\(opsListen)/metrics, http://\(executorHTTPListen)/metrics
        """)
        fflushStandardOutput()
        guard demoOrders > 0 else {
            await Child.waitForInterrupt()
            return
        }
        try await demo(api: api, apiKey: apiKey)
    }

    private func demo(api: String, apiKey: String) async throws {
        let authorization = ["Authorization": "Bearer \(apiKey)"]
        let run = UUID().uuidString.prefix(8)
        let started = Date()
        let ids: [(String, String)] = try await withThrowingTaskGroup(of: (String, String).self) { group in
            var ids: [(String, String)] = []
            for index in 0..<demoOrders {
                if index >= 16, let done = try await group.next() { ids.append(done) }
                group.addTask {
                    let token = Self.tokens[index % Self.tokens.count]
                    let body = #"{"merchantId":"m_demo","amount":\#(1000 + index),"currency":"EUR","paymentMethod":"\#(token)","psp":"\#(index % 2 == 0 ? "stripe" : "adyen")"}"#
                    let (status, json) = try await Self.http("POST", "\(api)/v1/payment-orders", body: body, headers: ["Idempotency-Key": "demo-\(run)-\(index)"].merging(authorization) { $1 })
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
        var latencies: [Int64] = []
        var remaining = ids
        let deadline = Date().addingTimeInterval(120)
        while !remaining.isEmpty, Date() < deadline {
            var stillPending: [(String, String)] = []
            for (id, token) in remaining {
                let (_, order) = try await Self.http("GET", "\(api)/v1/payment-orders/\(id)", headers: authorization)
                let status = order["status"] as? String ?? "?"
                if status == "PENDING" {
                    stillPending.append((id, token))
                } else {
                    byStatus["\(status) (\(token))", default: 0] += 1
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
    }

    static func http(_ method: String, _ url: String, body: String? = nil, headers: [String: String] = [:]) async throws -> (Int, [String: Any]) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.httpBody = body.map { Data($0.utf8) }
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, json)
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
