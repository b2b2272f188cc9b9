import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import Synchronization

/// One HTTP/2 connection of `HTTPClient`'s pool (`--http2`): h2c with prior knowledge, or h2
/// over TLS (the context must offer `h2` by ALPN). Each request is a stream of its own, so a
/// connection carries as many in flight as the server allows (SETTINGS_MAX_CONCURRENT_STREAMS;
/// NIOHTTP2 holds back streams beyond it until one closes).
struct HTTP2Connection: Sendable {
    let channel: any Channel
    private let streams: NIOHTTP2Handler.AsyncStreamMultiplexer<Void>
    private let scheme: HTTP2FramePayloadToHTTP1ClientCodec.HTTPProtocol

    static func connect(host: String, port: Int, tls: NIOSSLContext?, group: any EventLoopGroup) async throws -> HTTP2Connection {
        try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try tlsClientHandler(tls, host: host)) }
                    // The server opens no streams (no push): inbound streams are never set up.
                    let streams = try channel.pipeline.syncOperations.configureAsyncHTTP2Pipeline(mode: .client) { stream in
                        stream.eventLoop.makeSucceededVoidFuture()
                    }
                    return HTTP2Connection(channel: channel, streams: streams, scheme: tls == nil ? .http : .https)
                }
            }
    }

    /// Sends `request` on a new stream; its promise completes with the response.
    func send(_ request: PendingHTTPRequest) async throws {
        let scheme = self.scheme
        let stream = try await streams.openStream { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: scheme))
                try stream.pipeline.syncOperations.addHandler(HTTP2StreamResponseHandler())
                return stream
            }
        }
        try await stream.writeAndFlush(request)
    }
}

/// One request and its response on an HTTP/2 stream, with the request's deadline; the stream
/// closes once the response is whole.
final class HTTP2StreamResponseHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = PendingHTTPRequest
    typealias OutboundOut = HTTPClientRequestPart

    private var promise: EventLoopPromise<HTTPResponse>?
    private var response = HTTPResponseAssembler()
    private var deadline: Scheduled<Void>?

    func write(context: ChannelHandlerContext, data: NIOAny, promise writePromise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        promise = request.promise
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(deadline: request.deadline) {
            let (handler, context) = loopBound.value
            handler.fail(HTTPClientError(description: "no response within the request's timeout"))
            context.close(promise: nil)
        }
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        if let body = request.body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.write(wrapOutboundOut(.end(nil)), promise: writePromise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let complete = response.add(unwrapInboundIn(data)) else { return }
        deadline?.cancel()
        promise?.succeed(complete)
        promise = nil
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(HTTPClientError(description: "stream closed before its response"))
        context.fireChannelInactive()
    }

    private func fail(_ error: any Error) {
        deadline?.cancel()
        promise?.fail(error)
        promise = nil
    }
}

/// One pooled HTTP/2 connection, replaced when it fails.
final class HTTP2ConnectionSlot: Sendable {
    private let connection = Mutex<HTTP2Connection?>(nil)

    /// The slot's connection if it is still active, else `candidate`, which then fills the slot.
    func keepActive(or candidate: HTTP2Connection) -> HTTP2Connection {
        connection.withLock { slot in
            if let existing = slot, existing.channel.isActive { return existing }
            slot = candidate
            return candidate
        }
    }

    var current: HTTP2Connection? { connection.withLock { $0 } }

    func close() {
        let old = connection.withLock { slot -> HTTP2Connection? in
            defer { slot = nil }
            return slot
        }
        old?.channel.close(promise: nil)
    }
}

@available(*, unavailable)
extension HTTP2StreamResponseHandler: Sendable {}
