import Logging
import NIOCore
import NIOPosix
import Protocol
import ServiceLifecycle
import Synchronization

/// Serves the Kafka protocol over TCP. Each connection is read one request at a time and
/// answered in order, as Kafka's own broker does (it mutes a connection until its response is
/// sent), which also keeps one producer's batches to a partition in order. Concurrency, and with
/// it group commit, comes from many connections.
final class KafkaServer: Service {
    struct Configuration: Sendable {
        var host: String
        var port: Int
        var maximumFrameSize: Int
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

    init(configuration: Configuration, broker: KafkaBroker, logger: Logger, boundPort: @escaping @Sendable (Int) -> Void) {
        self.configuration = configuration
        self.broker = broker
        self.logger = logger
        self.boundPort = boundPort
    }

    func run() async throws {
        let maximumFrameSize = configuration.maximumFrameSize
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(KafkaFrameDecoder(maximumFrameSize: maximumFrameSize)))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        boundPort(server.channel.localAddress?.port ?? configuration.port)
        // Stop accepting on graceful shutdown; open connections end with the task group.
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await self.serve(connection) }
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

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let peer = connection.channel.remoteAddress?.description ?? "unknown peer"
        // Kafka shows members' hosts as "/address".
        let clientHost = "/" + (connection.channel.remoteAddress?.ipAddress ?? "unknown")
        var logger = self.logger
        logger[metadataKey: "client"] = "\(peer)"
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
        do {
            try await connection.executeThenClose { inbound, outbound in
                for try await frame in inbound {
                    connections.withLock { $0[id]?.busy = true }
                    switch await broker.handle(frame: frame, peer: clientHost, logger: logger) {
                    case .respond(let response):
                        try await outbound.write(response)
                    case .noResponse:
                        break
                    case .close(let reason):
                        logger.warning("closing connection", metadata: ["reason": "\(reason)"])
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
            logger.warning("closing connection: malformed frame", metadata: ["error": "\(error)"])
        } catch {
            logger.debug("connection ended", metadata: ["error": "\(error)"])
        }
    }
}
