import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization
import TLSSupport

/// A loopback TLS echo server taking each connection's context from a `ReloadableTLSContext`
/// (as the listeners do), and a client that completes a handshake and reports what it saw.
final class TLSTestServer: Sendable {
    let port: Int
    /// The subject CN of the last client certificate the server saw.
    let lastPeerName = Mutex<String?>(nil)

    private init(port: Int) {
        self.port = port
    }

    static func withServer(context: ReloadableTLSContext, _ body: (TLSTestServer) async throws -> Void) async throws {
        let box = Mutex<TLSTestServer?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context.current))
                    try channel.pipeline.syncOperations.addHandler(EchoHandler { name in
                        box.withLock { $0 }?.lastPeerName.withLock { $0 = name }
                    })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let server = TLSTestServer(port: channel.localAddress?.port ?? 0)
        box.withLock { $0 = server }
        do {
            try await body(server)
        } catch {
            try? await channel.close()
            throw error
        }
        try? await channel.close()
    }

    /// Connects, completes the handshake (and with `echo` one round trip, which is when a
    /// TLS 1.3 client hears that the server refused it) and returns the server certificate's serial.
    static func handshake(port: Int, context: NIOSSLContext, serverHostname: String?, echo: Bool = false) async throws -> [UInt8] {
        let promise = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: [UInt8].self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverHostname))
                    try channel.pipeline.syncOperations.addHandler(HandshakeWaiter(promise: promise, echo: echo))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        defer { channel.close(promise: nil) }
        return try await promise.futureResult.get()
    }
}

private struct ClosedEarly: Error {}

private final class HandshakeWaiter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let promise: EventLoopPromise<[UInt8]>
    let echo: Bool
    var serial: [UInt8] = []

    init(promise: EventLoopPromise<[UInt8]>, echo: Bool) {
        self.promise = promise
        self.echo = echo
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            serial = (try? context.pipeline.syncOperations.nioSSL_peerCertificate())??.serialNumber ?? []
            if echo {
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "ping")), promise: nil)
            } else {
                promise.succeed(serial)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        promise.succeed(serial)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ClosedEarly())
        context.fireChannelInactive()
    }
}

private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let peer: @Sendable (String?) -> Void

    init(peer: @escaping @Sendable (String?) -> Void) {
        self.peer = peer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let certificate = (try? context.pipeline.syncOperations.nioSSL_peerCertificate()) ?? nil {
            peer(subjectCommonName(of: certificate))
        }
        context.writeAndFlush(data, promise: nil)
    }
}
