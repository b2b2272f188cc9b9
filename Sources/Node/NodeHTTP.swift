import ArgumentParser
import HTTPPipelining
import Hummingbird
import HummingbirdCore
import Logging
import Foundation
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization
import TLSSupport

/// What every node serves over HTTP: Prometheus metrics and health. Nodes add their own
/// routes (the payment API) to `router`, and say which requests commute, before building the
/// server.
struct NodeHTTP {
    let router: Router<BasicRequestContext>
    /// Which requests commute with each other on a pipelined connection (see
    /// `PipelineSchedule`); by default none, and pipelined requests are served in turn.
    var overlapKey: @Sendable (HTTPRequest) -> String? = { _ in nil }

    /// `beforeScrape` refreshes the node's own gauges read at scrape time (offsets, lag, orders by
    /// status; the heap's are read for every node);
    /// a failure there is logged and the remaining metrics are still served.
    ///
    /// `admit` answers a metrics or health request it refuses (nil lets it through): the
    /// service's main listener asks for an `admin` API key there, its ops listener does not.
    init(readiness: Readiness, registry: PrometheusCollectorRegistry, logger: Logger = Logger(label: "paynode.http"),
         beforeScrape: @escaping @Sendable () throws -> Void = {},
         admit: @escaping @Sendable (Request) -> Response? = { _ in nil }) {
        let router = Router()
        let heap = HeapGauges()
        router.add(middleware: HTTPMetricsMiddleware())
        router.get("/healthz") { request, _ -> Response in
            if let refusal = admit(request) { return refusal }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"# + "\n")))
        }
        router.get("/readyz") { request, _ -> Response in
            if let refusal = admit(request) { return refusal }
            let ready = readiness.isReady
            return Response(status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: ready ? #"{"status":"ready"}"# + "\n" : #"{"status":"starting"}"# + "\n")))
        }
        router.get("/metrics") { request, _ -> Response in
            if let refusal = admit(request) { return refusal }
            heap.refresh()
            do {
                try beforeScrape()
            } catch {
                logger.warning("refreshing scrape-time gauges failed", metadata: ["error": "\(error)"])
            }
            var bytes: [UInt8] = []
            registry.emit(into: &bytes)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        self.router = router
    }

    static let maximumBodyBytes = 256 << 10

    /// What the HTTP listeners' TLS context offers by ALPN: `h2` and `http/1.1` when they serve
    /// HTTP/2, else nothing (as before HTTP/2).
    static func applicationProtocols(http2: Bool) -> [String] {
        http2 ? HTTPVersionNegotiation.applicationProtocols : []
    }

    /// The HTTP server: Hummingbird's router behind `PipelinedHTTP1Channel` and, with `http2`,
    /// `HTTP2StreamsChannel` (h2 by ALPN with `tls`, else h2c with prior knowledge), with the
    /// listener's connection limits and timeouts.
    /// `tls`: serve HTTPS with the certificate current when each connection is accepted (its
    /// context offers `applicationProtocols(http2:)`).
    func server(listen: ListenAddress, limits: HTTPConnectionLimits, http2: Bool, tls: ReloadableTLSContext? = nil, logger: Logger,
                onRunning: @escaping @Sendable (Int) -> Void) -> any Service {
        // Bodies are buffered whole, up to the depth per connection: bounded well above the
        // payment API's own 64 KiB (which answers 413 itself, keeping the connection).
        var configuration = PipelinedHTTP1Channel<RouterResponder<BasicRequestContext>>.Configuration(
            serverName: "paynode", maximumBodyBytes: Self.maximumBodyBytes)
        configuration.limits = limits
        let refusals = Dictionary(uniqueKeysWithValues: HTTPConnectionRefusal.allCases.map {
            ($0, Counter(label: "paynode_http_connections_refused_total", dimensions: [("reason", $0.rawValue)]))
        })
        // A refusal over a connection limit is worth a line, but a flood must not become a
        // flood of lines: at most one per 10 s, with the count since the last one.
        let warnings = RateLimitedCount(interval: .seconds(10))
        let limits = limits
        configuration.onRefusal = { reason in
            refusals[reason]?.increment()
            guard reason == .listenerLimit || reason == .addressLimit, let refused = warnings.record() else { return }
            logger.warning("refusing HTTP connections over a limit", metadata: [
                "refused": "\(refused)", "reason": "\(reason.rawValue)",
                "maximumConnections": "\(limits.maximumConnections)",
                "maximumConnectionsPerAddress": "\(limits.maximumConnectionsPerAddress)",
            ])
        }
        let responder = router.buildResponder()
        let http1 = PipelinedHTTP1Channel(responder: responder, configuration: configuration, overlapKey: overlapKey)
        guard http2 else { return Self.serve(http1, listen: listen, limits: limits, tls: tls, logger: logger, onRunning: onRunning) }
        let streams = HTTP2StreamsChannel(responder: responder, configuration: .init(matching: configuration))
        let versions = HTTPVersionChannel(http1: http1, http2: streams, negotiation: tls == nil ? .priorKnowledge : .alpn)
        return Self.serve(versions, listen: listen, limits: limits, tls: tls, logger: logger, onRunning: onRunning)
    }

    private static func serve<Child: ServerChildChannel>(_ child: Child, listen: ListenAddress, limits: HTTPConnectionLimits,
                                                         tls: ReloadableTLSContext?, logger: Logger,
                                                         onRunning: @escaping @Sendable (Int) -> Void) -> any Service {
        // The channel writes the Server header; Hummingbird's server does nothing with a name.
        let address = ServerConfiguration(address: .hostname(listen.host, port: listen.port))
        let running: @Sendable (any Channel) async -> Void = { channel in onRunning(channel.localAddress?.port ?? listen.port) }
        if let tls {
            // A handshake gets as long as a request's arrival (--http-request-timeout).
            return ReloadingTLSChannel(base: child, context: tls, handshakeTimeout: TimeAmount(limits.requestTimeout))
                .server(configuration: address, onServerRunning: running, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
        }
        return child.server(configuration: address, onServerRunning: running,
                            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
    }
}

/// The HTTP listener's limits, on every command that serves HTTP (flags, else `PAYNODE_*`
/// variables, else the defaults of `HTTPConnectionLimits`).
struct HTTPLimitOptions: ParsableArguments {
    @Option(name: .customLong("http-max-connections"), help: "HTTP connections open at once on the listener; more are answered 503 and closed (env: PAYNODE_HTTP_MAX_CONNECTIONS; default 1024).")
    var maximumConnections: Int?

    @Option(name: .customLong("http-max-connections-per-address"), help: "HTTP connections open at once from one client IP address, 0 for no per-address limit (env: PAYNODE_HTTP_MAX_CONNECTIONS_PER_ADDRESS; default 256).")
    var maximumConnectionsPerAddress: Int?

    @Option(name: .customLong("http-idle-timeout"), help: "Seconds an HTTP connection may stay idle (no request being read or answered) before it is closed (env: PAYNODE_HTTP_IDLE_TIMEOUT; default 60).")
    var idleTimeout: Double?

    @Option(name: .customLong("http-request-timeout"), help: "Seconds within which a request's headers and body must arrive, from its first byte; a slower client is disconnected (on HTTP/2: the stream is reset) (env: PAYNODE_HTTP_REQUEST_TIMEOUT; default 10).")
    var requestTimeout: Double?

    @Option(name: .customLong("http2"), help: "Serve HTTP/2 on the HTTP listener as well as HTTP/1.1, on or off: h2 by ALPN with --http-tls, else h2c with prior knowledge (env: PAYNODE_HTTP2; default on).")
    var http2: String?

    @Option(name: .customLong("http2-max-streams"), help: "HTTP/2 streams (requests) one connection may have open at once, SETTINGS_MAX_CONCURRENT_STREAMS; a client opening more loses the connection (env: PAYNODE_HTTP2_MAX_STREAMS; default 100).")
    var http2MaximumStreams: Int?

    @Option(name: .customLong("http2-max-header-list-bytes"), help: "HTTP/2: bytes of one request's decoded header list, SETTINGS_MAX_HEADER_LIST_SIZE (env: PAYNODE_HTTP2_MAX_HEADER_LIST_BYTES; default 16384).")
    var http2MaximumHeaderListBytes: Int?

    func resolve() throws -> HTTPConnectionLimits {
        let defaults = HTTPConnectionLimits()
        let connections = try EnvironmentOption.integer(maximumConnections, "PAYNODE_HTTP_MAX_CONNECTIONS", default: defaults.maximumConnections)
        let perAddress = try EnvironmentOption.integer(maximumConnectionsPerAddress, "PAYNODE_HTTP_MAX_CONNECTIONS_PER_ADDRESS",
                                                       default: defaults.maximumConnectionsPerAddress)
        guard (1...1_000_000).contains(connections) else { throw ValidationError("--http-max-connections \(connections) must be 1 to 1000000") }
        guard (0...1_000_000).contains(perAddress) else { throw ValidationError("--http-max-connections-per-address \(perAddress) must be 0 to 1000000") }
        let streams = try EnvironmentOption.integer(http2MaximumStreams, "PAYNODE_HTTP2_MAX_STREAMS",
                                                    default: defaults.http2MaximumConcurrentStreams)
        let headerListBytes = try EnvironmentOption.integer(http2MaximumHeaderListBytes, "PAYNODE_HTTP2_MAX_HEADER_LIST_BYTES",
                                                            default: defaults.http2MaximumHeaderListBytes)
        // Each open stream may hold a whole body (256 KiB): the stream limit bounds a
        // connection's memory as the pipeline depth does on HTTP/1.1.
        guard (1...1000).contains(streams) else { throw ValidationError("--http2-max-streams \(streams) must be 1 to 1000") }
        guard (1024...(1 << 20)).contains(headerListBytes) else {
            throw ValidationError("--http2-max-header-list-bytes \(headerListBytes) must be 1024 to 1048576")
        }
        return HTTPConnectionLimits(
            maximumConnections: connections, maximumConnectionsPerAddress: perAddress,
            idleTimeout: try Self.seconds(idleTimeout, "PAYNODE_HTTP_IDLE_TIMEOUT", flag: "--http-idle-timeout", default: 60),
            requestTimeout: try Self.seconds(requestTimeout, "PAYNODE_HTTP_REQUEST_TIMEOUT", flag: "--http-request-timeout", default: 10),
            http2MaximumConcurrentStreams: streams, http2MaximumHeaderListBytes: headerListBytes)
    }

    /// Whether the HTTP listener serves HTTP/2 too (`--http2 on|off`, else PAYNODE_HTTP2).
    func servesHTTP2() throws -> Bool {
        guard let http2 else { return try EnvironmentOption.bool(nil, "PAYNODE_HTTP2", default: true) }
        switch http2.lowercased() {
        case "on": return true
        case "off": return false
        default: throw ValidationError("--http2 \(http2) must be on or off")
        }
    }

    /// A timeout in seconds (fractions allowed), 0.1 s to one day.
    static func seconds(_ flag: Double?, _ variable: String, flag name: String, default fallback: Double) throws -> Duration {
        var value = fallback
        if let flag {
            value = flag
        } else if let text = ProcessInfo.processInfo.environment[variable] {
            guard let parsed = Double(text) else { throw ValidationError("\(variable)=\(text) is not a number of seconds") }
            value = parsed
        }
        guard value.isFinite, (0.1...86_400).contains(value) else { throw ValidationError("\(name) \(value) must be 0.1 to 86400 seconds") }
        return .milliseconds(Int64((value * 1000).rounded()))
    }
}

/// Becomes ready once every listener of the node is bound; then logs the one `ready` line
/// (and prints it on stdout, which scripts and tests wait for).
final class Readiness: Sendable {
    private let state: Mutex<[String: Int]>
    private let expected: Set<String>
    private let logger: Logger
    private let node: String

    init(node: String, listeners: Set<String>, logger: Logger) {
        self.node = node
        self.expected = listeners
        self.state = Mutex([:])
        self.logger = logger
    }

    var isReady: Bool { state.withLock { Set($0.keys) == expected } }

    func bound(_ listener: String, port: Int) {
        let ports: [String: Int]? = state.withLock { ports in
            ports[listener] = port
            return Set(ports.keys) == expected ? ports : nil
        }
        guard let ports else { return }
        let summary = ports.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        logger.info("ready", metadata: ports.mapValues { "\($0)" })
        print("paynode \(node) ready \(summary)")
        fflushStandardOutput()
    }
}

func bootstrapMetrics() -> PrometheusCollectorRegistry {
    let registry = PrometheusCollectorRegistry()
    var factory = PrometheusMetricsFactory(registry: registry)
    // Commits and pipeline latencies live well below the library's 5 ms first bucket.
    factory.defaultDurationHistogramBuckets = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .microseconds(2_500_000), .seconds(5), .seconds(10),
    ]
    factory.valueHistogramBuckets["paynode_store_commit_callers"] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    MetricsSystem.bootstrap(factory)
    return registry
}
