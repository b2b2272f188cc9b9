import ArgumentParser
import Foundation
import KafkaClient
import Payments
import Protocol

/// `loadtest`: drives a paynode cluster with payment orders (or PSP results) under injected
/// faults, checks that every promise held, and reports throughput, latency and resources.
/// See docs/loadtest.md.
@main
struct LoadtestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Sustained load with fault injection against paynode, an exactly-once checker, and a latency/throughput report.",
        discussion: """
        Modes:
          full      HTTP order -> executor -> simulated PSP -> result -> terminal state (default)
          pipeline  orders are created first (no executor), then PSP results are produced straight
                    into psp-result-updates: the service's consumer pipeline alone
          recovery  fill the service's log with --fill-records records, SIGKILL it, time the restart
        Exit status: 0 passed, 1 the checker found violations (each printed with its order id), 2 the tool failed.
        """
    )

    enum Mode: String, ExpressibleByArgument, CaseIterable, Sendable { case full, pipeline, recovery }

    @Option(help: "full, pipeline or recovery.") var mode: Mode = .full
    @Option(help: "Operations per second offered (orders, or orders' results in pipeline mode); 0 = as fast as possible.") var rate: Double = 0
    @Option(help: "Seconds of load.") var duration: Double = 30
    @Option(help: "At most this many orders (pipeline mode: the orders created first; default rate x duration, or 20000).") var orders: Int?
    @Option(help: "Payment-method token mix, e.g. tok_visa=70,tok_pending=10,tok_chargeDeclined=20.") var tokens: TokenMix = .everyToken
    @Option(help: "Concurrent HTTP requests.") var concurrency = 64
    @Option(help: "Keep-alive HTTP connections (requests are pipelined on them).") var connections = 8
    @Flag(name: .customLong("http2"), help: "The payment API over HTTP/2: h2c with prior knowledge, or h2 by ALPN with --tls; --connections connections carry --concurrency requests in flight in all, a stream each (every order through a task of its own, also at full speed; not with --max-outstanding).") var http2 = false
    @Option(name: .customLong("max-outstanding"), help: "Full flow as fast as possible: at most this many orders sent whose terminal event has not been seen (0 = no bound). The rate then settles where the whole pipeline completes orders, with a bounded backlog, instead of where the API accepts them.") var maxOutstanding = 0
    @Option(name: .customLong("idempotency-keys"), help: "sequential (<run>-<index>) or random (a hash first, as UUIDv4 keys).") var idempotencyKeys: IdempotencyKeys.Scheme = .sequential
    @Option(name: .customLong("producer-concurrency"), help: "PSP results in flight at once (pipeline mode at a fixed --rate; at full speed results go as pre-encoded batches, one in flight per partition).") var producerConcurrency = 2000

    @Option(help: "The paynode binary (default: next to this executable, else on PATH).") var paynode: String?
    @Option(name: .customLong("work-dir"), help: "Data directories, logs and results go here (default: a new directory under /tmp).") var workDirectory: String?
    @Option(name: .customLong("target-http"), help: "Use a running service's HTTP API (HOST:PORT) instead of starting a cluster (no faults then).") var targetHTTP: String?
    @Option(name: .customLong("api-key"), help: "The payment API key (pk_...) for --target-http (env: PAYNODE_API_KEY; default: the one `paynode dev` keeps in ./data/dev/api-key). A cluster loadtest starts gets an admin key of its own.") var apiKey: String?
    @Option(name: .customLong("target-kafka"), help: "The running service's Kafka listener (HOST:PORT), with --target-http.") var targetKafka: String?
    @Flag(name: .customLong("tls"), help: "Over TLS: a cluster loadtest starts gets development certificates (WORK_DIR/certs), SSL on Kafka and HTTPS; a --target-* service is reached over TLS.") var tls = false
    @Option(name: .customLong("tls-ca-file"), help: "PEM CA the nodes' certificates must chain to (implies --tls; default: the cluster's development CA, or the system's trust store with --target-*).") var tlsCAFile: String?
    @Option(name: .customLong("cluster-security"), help: "The Kafka listener of the cluster loadtest starts: plaintext (the default; SSL with --tls), ssl (as --tls), sasl_plaintext or sasl_ssl. With SASL the service gets SCRAM users (WORK_DIR/credentials): the executor authenticates as User:executor, loadtest's clients as User:loadtest, the only super user; sasl_ssl serves the payment API over HTTPS too, as --tls.") var clusterSecurity: String?
    @Option(name: .customLong("psp-latency-ms"), help: "Latency of each simulated PSP call in the executor.") var pspLatency = 0
    @OptionGroup var kafkaSecurity: LoadtestKafkaSecurityOptions
    @Option(name: .customLong("topic-partitions"), help: "Partitions of the pipeline's topics (a fresh cluster only).") var topicPartitions: Int?
    @Option(name: .customLong("service-arg"), parsing: .unconditionalSingleValue, help: "An extra argument for `paynode service` (repeatable).") var serviceArguments: [String] = []
    @Option(name: .customLong("executor-arg"), parsing: .unconditionalSingleValue, help: "An extra argument for `paynode executor` (repeatable).") var executorArguments: [String] = []

    @Option(help: "Nodes to SIGKILL and restart at random intervals: service, executor or both (comma-separated).") var kill: String?
    @Option(name: .customLong("kill-interval"), help: "Seconds between kills, MIN-MAX.") var killInterval = SecondsRange(argument: "3-8")!
    @Flag(help: "Put the fault proxy between executor and service even without proxy faults.") var proxy = false
    @Option(name: .customLong("proxy-latency-ms"), help: "Latency the proxy adds to every chunk.") var proxyLatency = 0
    @Option(name: .customLong("proxy-jitter-ms"), help: "Random extra latency up to this per chunk.") var proxyJitter = 0
    @Option(name: .customLong("proxy-reset-interval"), help: "Seconds between connection resets (RST), MIN-MAX.") var proxyResetInterval: SecondsRange?
    @Option(name: .customLong("proxy-blackhole-interval"), help: "Seconds between blackhole windows, MIN-MAX.") var proxyBlackholeInterval: SecondsRange?
    @Option(name: .customLong("proxy-blackhole-ms"), help: "Length of a blackhole window.") var proxyBlackholeMilliseconds = 1000
    @Option(name: .customLong("disk-full-interval"), help: "Seconds between disk-full windows (service store limit), MIN-MAX.") var diskFullInterval: SecondsRange?
    @Option(name: .customLong("disk-full-seconds"), help: "Length of a disk-full window.") var diskFullSeconds = 3.0
    @Option(help: "Seed of the fault timing.") var seed: UInt64 = 20261123

    @Option(name: .customLong("fill-records"), help: "Recovery mode: records written to the log before the SIGKILL.") var fillRecords = 1_000_000
    @Option(name: .customLong("recovery-kills"), help: "Recovery mode: kill/restart cycles measured.") var recoveryKills = 3

    @Flag(name: .customLong("strict-results"), inversion: .prefixedNo, help: "Duplicate records of one result in psp-result-updates are violations (default; --no-strict-results only counts and reports them, e.g. against an executor without the outbox).") var strictResults = true
    @Flag(name: .customLong("expect-dead-letters"), help: "Dead letters are expected (poison was injected).") var expectDeadLetters = false
    @Option(name: .customLong("inject-poison"), help: "Produce this many undecodable records into psp-result-updates during the load (they must reach the DLQ).") var injectPoison = 0
    @Flag(name: .customLong("no-check"), help: "Skip the checker (benchmarks of very large runs).") var noCheck = false
    @Option(name: .customLong("drain-timeout"), help: "Seconds to wait after the load for every order to become terminal.") var drainTimeout: Double = 120
    @Option(help: "The JSON result file (default WORK_DIR/loadtest-result.json).") var output: String?
    @Option(help: "The SVG chart (default next to the JSON result, .svg).") var chart: String?
    @Flag(name: .customLong("keep-data"), help: "Keep the work directory of a passed run (a failed run's is always kept).") var keepData = false

    func validate() throws {
        guard rate >= 0, duration > 0 else { throw ValidationError("--rate must be >= 0 and --duration > 0") }
        guard concurrency >= 1, connections >= 1, producerConcurrency >= 1 else { throw ValidationError("concurrency and connections must be >= 1") }
        guard !http2 || maxOutstanding == 0 else { throw ValidationError("--max-outstanding is not supported with --http2") }
        guard maxOutstanding >= 0 else { throw ValidationError("--max-outstanding must be >= 0") }
        if (targetHTTP == nil) != (targetKafka == nil) { throw ValidationError("--target-http and --target-kafka go together") }
        if targetHTTP != nil, kill != nil || diskFullInterval != nil || usesProxy || mode == .recovery {
            throw ValidationError("faults and recovery need a cluster loadtest starts itself (drop --target-http/--target-kafka)")
        }
        for victim in killVictims where victim != "service" && victim != "executor" {
            throw ValidationError("--kill takes service, executor or both, not \(victim)")
        }
        if mode == .pipeline, killVictims.contains("executor") || usesProxy {
            throw ValidationError("pipeline mode runs no executor: kill the service only, no proxy")
        }
        if targetHTTP != nil, clusterSecurity != nil {
            throw ValidationError("--cluster-security is for a cluster loadtest starts; a --target-kafka service is reached with --kafka-security-protocol and --sasl-*")
        }
        if targetHTTP == nil, try clusterListener().usesSASL, kafkaSecurity.isGiven {
            throw ValidationError("with --cluster-security \(clusterSecurity ?? "") loadtest's clients use the cluster's own SCRAM users: drop --kafka-security-protocol and --sasl-*")
        }
    }

    /// The Kafka listener of a cluster loadtest starts: `--cluster-security`, with `--tls`
    /// (or `--tls-ca-file`) turning PLAINTEXT into SSL.
    func clusterListener() throws -> KafkaSecurityProtocol {
        let wantsTLS = tls || tlsCAFile != nil
        guard let clusterSecurity else { return wantsTLS ? .ssl : .plaintext }
        guard let listener = KafkaSecurityProtocol(parsing: clusterSecurity) else {
            throw ValidationError("--cluster-security \(clusterSecurity) must be plaintext, ssl, sasl_plaintext or sasl_ssl")
        }
        if wantsTLS, !listener.usesTLS {
            throw ValidationError("--cluster-security \(clusterSecurity) is without TLS: drop --tls, or use \(listener.usesSASL ? "sasl_ssl" : "ssl")")
        }
        return listener
    }

    var killVictims: [String] { kill?.split(separator: ",").map(String.init) ?? [] }
    var usesProxy: Bool { proxy || proxyLatency > 0 || proxyJitter > 0 || proxyResetInterval != nil || proxyBlackholeInterval != nil }

    func run() async throws {
        do {
            let passed = try await LoadtestRun(options: self).run()
            if !passed { throw ExitCode(1) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            FileHandle.standardError.write(Data("loadtest: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    /// `paynode` next to this executable (both come out of one `swift build`), else on PATH.
    func paynodeBinary() throws -> String {
        if let paynode { return paynode }
        let own = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let sibling = own.deletingLastPathComponent().appendingPathComponent("paynode").path
        if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(directory)/paynode"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ValidationError("no paynode binary next to loadtest or on PATH: pass --paynode PATH")
    }
}
