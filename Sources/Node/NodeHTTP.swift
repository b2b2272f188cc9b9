import Hummingbird
import Logging
import Metrics
import NIOCore
import Prometheus
import Synchronization

/// What every node serves over HTTP: Prometheus metrics and health. Nodes add their own
/// routes (the payment API) to `router` before building the application.
struct NodeHTTP {
    let router: Router<BasicRequestContext>

    init(readiness: Readiness, registry: PrometheusCollectorRegistry) {
        let router = Router()
        router.get("/healthz") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"# + "\n")))
        }
        router.get("/readyz") { _, _ -> Response in
            let ready = readiness.isReady
            return Response(status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: ready ? #"{"status":"ready"}"# + "\n" : #"{"status":"starting"}"# + "\n")))
        }
        router.get("/metrics") { _, _ -> Response in
            var bytes: [UInt8] = []
            registry.emit(into: &bytes)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        self.router = router
    }

    func application(listen: ListenAddress, logger: Logger, onRunning: @escaping @Sendable (Int) -> Void) -> some ApplicationProtocol {
        Application(router: router, configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "paynode"),
                    onServerRunning: { channel in onRunning(channel.localAddress?.port ?? listen.port) }, logger: logger)
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
    MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    return registry
}
