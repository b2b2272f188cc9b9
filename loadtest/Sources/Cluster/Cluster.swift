import Foundation
import NIOSSL
import Synchronization

/// The nodes under test: `paynode service` and `paynode executor` as separate processes on
/// loopback with their own data directories, optionally with the fault proxy between the
/// executor and the service's Kafka listener. A restarted service keeps its ports (the proxy,
/// the tail and the HTTP pool stay pointed at it); a restarted executor keeps its data directory.
final class Cluster: Sendable {
    struct Options: Sendable {
        var binary: String
        var root: String
        var startExecutor = true
        var pspLatencyMilliseconds = 0
        var topicPartitions: Int?
        var serviceArguments: [String] = []
        var executorArguments: [String] = []
        var logLevel = "warning"
        /// What loadtest's own clients (HTTP and Kafka) trust when the nodes serve TLS.
        var tls: NIOSSLContext?
        /// The listener, certificates and principals of both nodes (`--cluster-security`, `--tls`).
        var security = ClusterSecurity.plaintext
    }

    let options: Options
    let service: NodeProcess
    let executor: NodeProcess
    private let ports = Mutex(ReadyPorts())
    private let executorBootstrap = Mutex("")

    init(options: Options) throws {
        self.options = options
        try FileManager.default.createDirectory(atPath: options.root + "/logs", withIntermediateDirectories: true)
        service = NodeProcess(role: "service", binary: options.binary, logPath: options.root + "/logs/service.log")
        executor = NodeProcess(role: "executor", binary: options.binary, logPath: options.root + "/logs/executor.log")
    }

    var httpPort: Int { ports.withLock { $0.http ?? 0 } }
    var kafkaPort: Int { ports.withLock { $0.kafka ?? 0 } }
    var nodes: [NodeProcess] { options.startExecutor ? [service, executor] : [service] }

    func startService(extraArguments: [String] = []) async throws {
        let known = ports.withLock { $0 }
        var arguments = ["--data-dir", options.root + "/service",
                         "--kafka-listen", "127.0.0.1:\(known.kafka ?? 0)",
                         "--http-listen", "127.0.0.1:\(known.http ?? 0)",
                         // Metrics are scraped from the main listener with the run's admin key.
                         "--ops-listen", "127.0.0.1:0",
                         "--log-level", options.logLevel] + options.security.serviceArguments
        if let partitions = options.topicPartitions { arguments += ["--topic-partitions", String(partitions)] }
        arguments += options.serviceArguments + extraArguments
        let ready = try await service.start(arguments: arguments)
        ports.withLock { $0 = ReadyPorts(http: ready.http ?? known.http, kafka: ready.kafka ?? known.kafka) }
    }

    /// Starts the executor against `bootstrap` (the service, or the fault proxy in front of it).
    func startExecutor(bootstrap: String? = nil) async throws {
        if let bootstrap { executorBootstrap.withLock { $0 = bootstrap } }
        let target = executorBootstrap.withLock { $0 }
        try await executor.start(arguments: [
            "--data-dir", options.root + "/executor", "--bootstrap-servers", target,
            "--http-listen", "127.0.0.1:0", "--psp-latency-ms", String(options.pspLatencyMilliseconds),
            "--log-level", options.logLevel,
        ] + options.security.executorArguments + options.executorArguments)
    }

    /// SIGKILL, then start again (retrying a start that fails, e.g. the port still held).
    func crashAndRestart(_ node: NodeProcess, downtime: Duration, serviceArguments: [String] = []) async throws {
        node.kill()
        try await Task.sleep(for: downtime)
        try await restart(node, serviceArguments: serviceArguments)
    }

    func restart(_ node: NodeProcess, serviceArguments: [String] = []) async throws {
        var attempt = 0
        while true {
            do {
                if node === service { try await startService(extraArguments: serviceArguments) } else { try await startExecutor() }
                return
            } catch {
                attempt += 1
                node.kill()
                if attempt >= 10 { throw error }
                try await Task.sleep(for: .milliseconds(200 * attempt))
            }
        }
    }

    /// SIGTERM both nodes (executor first: it is the service's client).
    func stop() {
        executor.stop()
        service.stop()
    }
}
