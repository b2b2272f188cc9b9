import NIOCore
import NIOPosix
import Synchronization

/// A TCP proxy in front of a broker that can lose one Produce response: the request reaches
/// the broker (which appends the batch), then the client connection is closed before the answer
/// comes back, as when a network fails mid-request. Retrying clients must not duplicate.
final class DroppingProxy: Sendable {
    private let server: any Channel
    private let dropNextProduceResponse = Mutex(false)
    private let dropped = Mutex(0)
    var port: Int { server.localAddress?.port ?? 0 }
    var droppedResponses: Int { dropped.withLock { $0 } }

    init(targetPort: Int) async throws {
        let box = Mutex<DroppingProxy?>(nil)
        server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { inbound in
                ClientBootstrap(group: inbound.eventLoop).connect(host: "127.0.0.1", port: targetPort).flatMapThrowing { outbound in
                    let state = Relay.Shared()
                    let proxy = box.withLock { $0 }
                    try inbound.pipeline.syncOperations.addHandler(Relay(peer: outbound, shared: state, fromClient: true, proxy: proxy))
                    try outbound.pipeline.syncOperations.addHandler(Relay(peer: inbound, shared: state, fromClient: false, proxy: proxy))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        box.withLock { $0 = self }
    }

    func loseNextProduceResponse() { dropNextProduceResponse.withLock { $0 = true } }

    fileprivate func takeDropRequest() -> Bool {
        dropNextProduceResponse.withLock { flag in defer { flag = false }; return flag }
    }

    fileprivate func countDrop() { dropped.withLock { $0 += 1 } }

    func close() async { try? await server.close() }
}

private final class Relay: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Per proxied connection; both channels share one event loop.
    final class Shared: @unchecked Sendable { var blackholed = false }

    let peer: any Channel
    let shared: Shared
    let fromClient: Bool
    let proxy: DroppingProxy?

    init(peer: any Channel, shared: Shared, fromClient: Bool, proxy: DroppingProxy?) {
        self.peer = peer
        self.shared = shared
        self.fromClient = fromClient
        self.proxy = proxy
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if fromClient {
            // A chunk starting with a Produce (api key 0) frame, while a drop is requested.
            let apiKey = bytes.getInteger(at: bytes.readerIndex + 4, as: Int16.self)
            if apiKey == 0, let proxy, proxy.takeDropRequest() {
                shared.blackholed = true
                proxy.countDrop()
                let client = context.channel
                let broker = peer
                // Give the broker time to append, then fail the connection without an answer.
                context.eventLoop.scheduleTask(in: .milliseconds(300)) {
                    client.close(promise: nil)
                    broker.close(promise: nil)
                }
            }
            peer.writeAndFlush(bytes, promise: nil)
        } else if !shared.blackholed {
            peer.writeAndFlush(bytes, promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer.close(promise: nil)
    }
}
