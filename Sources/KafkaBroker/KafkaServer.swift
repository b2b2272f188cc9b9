import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Protocol
import ServiceLifecycle
import Synchronization
import Telemetry
import TLSSupport

/// Serves the Kafka protocol over TCP. Each connection is read one request at a time and
/// answered in order, as Kafka's own broker does (it mutes a connection until its response is
/// sent), which also keeps one producer's batches to a partition in order. Concurrency, and with
/// it group commit, comes from many connections.
package final class KafkaServer: Service {
    package struct Configuration: Sendable {
        package var host: String
        package var port: Int
        /// PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, as Kafka's listeners.
        package var securityProtocol: KafkaSecurityProtocol = .plaintext
        /// The certificate served when `securityProtocol.usesTLS` (SIGHUP may replace it).
        package var tls: ReloadableTLSContext?
        /// Offered in SaslHandshake on a SASL_* listener (Kafka's sasl.enabled.mechanisms).
        package var saslMechanisms: [SaslMechanism] = [.scramSHA256, .scramSHA512, .plain]
        /// Largest request frame; a bigger claimed size closes the connection before anything
        /// of it is buffered.
        package var maximumFrameSize: Int = 8 << 20
        /// Kafka's max.connections and max.connections.per.ip: one more is closed at once.
        package var maximumConnections: Int = 1000
        package var maximumConnectionsPerAddress: Int = 500
        /// Kafka's connections.max.idle.ms.
        package var idleTimeoutMilliseconds: Int64 = 600_000
        /// A request that has started arriving must be complete within this.
        package var requestReadTimeoutMilliseconds: Int64 = 30_000
        /// Requests read ahead of the one being answered; beyond it the connection is not read
        /// (TCP back-pressure), so a pipelining client cannot queue without bound.
        package var maximumInFlightRequests: Int = 5

        package init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    private let configuration: Configuration
    private let broker: KafkaBroker
    private let logger: Logger
    private let boundPort: @Sendable (Int) -> Void
    /// Open connections, so a graceful shutdown can close each once its current request is
    /// answered.
    private struct Connection {
        var channel: any Channel
        var busy = false
        var closeWhenIdle = false
    }

    private let connections = Mutex<[ObjectIdentifier: Connection]>([:])
    private let shuttingDown = Mutex(false)
    private let limiter: Mutex<ConnectionLimiter>
    /// Rejections and closes: a flood of hostile connections logs a few lines, not one each.
    private let warnings: RateLimitedLogger

    package init(configuration: Configuration, broker: KafkaBroker, logger: Logger, boundPort: @escaping @Sendable (Int) -> Void) {
        self.configuration = configuration
        self.broker = broker
        self.logger = logger
        self.boundPort = boundPort
        self.limiter = Mutex(ConnectionLimiter(maximumConnections: configuration.maximumConnections,
                                               maximumConnectionsPerAddress: configuration.maximumConnectionsPerAddress))
        self.warnings = RateLimitedLogger(logger: logger)
    }

    package func run() async throws {
        let maximumFrameSize = configuration.maximumFrameSize
        let timeouts = KafkaConnectionGuard.Timeouts(idle: .milliseconds(configuration.idleTimeoutMilliseconds),
                                                     requestRead: .milliseconds(configuration.requestReadTimeoutMilliseconds))
        let inFlight = configuration.maximumInFlightRequests
        let warnings = self.warnings
        let logger = self.logger
        let tls = try tlsContext()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let activity = ConnectionActivity()
                    var connectionLogger = logger
                    connectionLogger[metadataKey: "client"] = "\(channel.remoteAddress?.description ?? "unknown peer")"
                    // First, so every handler after it sees plaintext; a client that does not
                    // speak TLS fails the handshake and is closed.
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.current))
                        try channel.pipeline.syncOperations.addHandler(TLSHandshakeDeadline(timeout: timeouts.requestRead))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        KafkaConnectionGuard(timeouts: timeouts, activity: activity, warnings: warnings, logger: connectionLogger))
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(KafkaFrameDecoder(maximumFrameSize: maximumFrameSize)))
                    let asyncChannel = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(backPressureStrategy: .init(lowWatermark: max(1, inFlight / 2), highWatermark: inFlight)))
                    return (asyncChannel, activity)
                }
            }
        boundPort(server.channel.localAddress?.port ?? configuration.port)
        // Stop accepting on graceful shutdown; open connections end with the task group.
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await (connection, activity) in connections {
                        group.addTask { await self.serve(connection, activity: activity) }
                    }
                }
            }
        } onGracefulShutdown: {
            // Stop accepting; answer waiting fetches now; close idle connections at once and
            // busy ones as soon as their current request is answered.
            server.channel.close(promise: nil)
            self.broker.beginShutdown()
            let idle = self.connections.withLock { connections -> [any Channel] in
                self.shuttingDown.withLock { $0 = true }
                var idle: [any Channel] = []
                for (id, connection) in connections {
                    if connection.busy { connections[id]?.closeWhenIdle = true } else { idle.append(connection.channel) }
                }
                return idle
            }
            for channel in idle { channel.close(promise: nil) }
        }
    }

    /// The listener's TLS context: required exactly when its security protocol uses TLS.
    private func tlsContext() throws -> ReloadableTLSContext? {
        guard configuration.securityProtocol.usesTLS else { return nil }
        guard let tls = configuration.tls else {
            throw TLSConfigurationError("the Kafka listener's security protocol \(configuration.securityProtocol) needs a TLS certificate")
        }
        return tls
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, activity: ConnectionActivity) async {
        let peer = connection.channel.remoteAddress?.description ?? "unknown peer"
        let address = connection.channel.remoteAddress?.ipAddress ?? "unknown"
        // Kafka shows members' hosts as "/address".
        let clientHost = "/" + address
        var logger = self.logger
        logger[metadataKey: "client"] = "\(peer)"
        switch limiter.withLock({ $0.acquire(address: address) }) {
        case .accept:
            break
        case .listenerFull(let limit):
            warnings.warning(key: "max-connections", "refused a Kafka connection: the listener is full",
                             metadata: ["limit": "\(limit)"], logger: logger)
            countClosedConnection("max-connections")
            try? await connection.channel.close()
            return
        case .addressFull(let limit):
            warnings.warning(key: "max-connections-per-ip", "refused a Kafka connection: its address has the most connections it may",
                             metadata: ["limit": "\(limit)"], logger: logger)
            countClosedConnection("max-connections-per-ip")
            try? await connection.channel.close()
            return
        }
        defer { limiter.withLock { $0.release(address: address) } }
        let id = ObjectIdentifier(connection.channel)
        let accepted = connections.withLock { connections -> Bool in
            guard !shuttingDown.withLock({ $0 }) else { return false }
            connections[id] = Connection(channel: connection.channel)
            return true
        }
        guard accepted else {
            try? await connection.channel.close()
            return
        }
        defer { connections.withLock { $0[id] = nil } }
        var session = KafkaSession(clientHost: clientHost)
        let asksForCertificate = configuration.securityProtocol.usesTLS && (configuration.tls?.files.clientAuthentication ?? .none) != .none
        var clientCertificateRead = !asksForCertificate
        if configuration.securityProtocol.usesSASL {
            session.sasl = SaslServerSession(enabledMechanisms: configuration.saslMechanisms, fakeSaltKey: broker.fakeSaltKey)
        }
        do {
            try await connection.executeThenClose { inbound, outbound in
                for try await frame in inbound {
                    // The handshake is over once a frame arrives: the client certificate, if
                    // any, is known and names the principal (SASL may replace it later).
                    if !clientCertificateRead {
                        clientCertificateRead = true
                        if let principal = await Self.certificatePrincipal(of: connection.channel) {
                            session.principal = principal
                            logger.debug("client certificate names the principal", metadata: ["principal": "\(principal)"])
                        }
                    }
                    connections.withLock { $0[id]?.busy = true }
                    activity.setBusy(true)
                    defer { activity.setBusy(false) }
                    let reply = await broker.handle(frame: frame, session: &session, logger: logger)
                    // From authentication on, the connection's log lines name who it is.
                    if session.principal != .anonymous, logger[metadataKey: "principal"] == nil {
                        logger[metadataKey: "principal"] = "\(session.principal)"
                    }
                    switch reply {
                    case .respond(let response):
                        try await outbound.write(response)
                    case .noResponse:
                        break
                    case .respondThenClose(let response, let reason):
                        try await outbound.write(response)
                        // Closing at once could drop the answer still queued in the writer; an
                        // empty write queued behind it completes only once the answer is written.
                        try? await connection.channel.writeAndFlush(ByteBuffer())
                        logger.debug("closing connection", metadata: ["reason": "\(reason)"])
                        countClosedConnection("sasl-refused")
                        return
                    case .close(let reason):
                        warnings.warning(key: "request-refused", "closing connection", metadata: ["reason": "\(reason)"], logger: logger)
                        countClosedConnection("request-refused")
                        return
                    }
                    let closeNow = connections.withLock { connections -> Bool in
                        connections[id]?.busy = false
                        return connections[id]?.closeWhenIdle ?? false
                    }
                    if closeNow { return }
                }
            }
        } catch let error as KafkaCodecError {
            // An oversized or negative frame size lands here before any of it is buffered.
            warnings.warning(key: "malformed-frame", "closing connection: malformed frame", metadata: ["error": "\(error)"], logger: logger)
            countClosedConnection("malformed-frame")
        } catch NIOSSLError.uncleanShutdown {
            // The client closed TCP without TLS's close_notify, as librdkafka and our own client
            // do when they are done: an ordinary end, not a failed handshake.
            logger.debug("connection ended without close_notify")
        } catch let error where error is NIOSSLError || error is BoringSSLError {
            // Plaintext clients, unknown CAs and missing client certificates end here; a flood of
            // them logs a few lines, and the count says how many.
            warnings.warning(key: "tls-handshake", "closing connection: TLS failed", metadata: ["error": "\(error)"], logger: logger)
            countClosedConnection("tls-handshake")
        } catch {
            logger.debug("connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// `User:<CN>` of the verified client certificate, as mutual TLS listeners name principals.
    private static func certificatePrincipal(of channel: any Channel) async -> KafkaPrincipal? {
        guard let certificate = try? await channel.nioSSL_peerCertificate().get(),
              let name = subjectCommonName(of: certificate) else { return nil }
        return KafkaPrincipal(name: name)
    }
}
