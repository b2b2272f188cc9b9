import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP2
import NIOTLS

/// What a TLS listener serving `HTTPVersionChannel` offers by ALPN.
public enum HTTPVersionNegotiation {
    /// The ALPN protocols of a TLS listener serving `HTTPVersionChannel`, preferred first.
    public static var applicationProtocols: [String] { NIOHTTP2SupportedALPNProtocols }
}

/// One HTTP listener serving HTTP/1.1 and HTTP/2 with the same router: each connection gets
/// the listener's `HTTPConnectionGuard` first, then which HTTP it speaks is found out, and it
/// is served by `PipelinedHTTP1Channel` or `HTTP2StreamsChannel`.
///
/// Behind TLS the choice is ALPN's (the TLS context must offer
/// `HTTPVersionNegotiation.applicationProtocols`; a client that offers neither is HTTP/1.1).
/// In plaintext it is the connection's first bytes: the HTTP/2 preface is h2c with prior
/// knowledge, anything else HTTP/1.1. HTTP/1.1's `Upgrade: h2c` is not offered (RFC 9113
/// deprecates it).
public struct HTTPVersionChannel<Responder: HTTPResponder>: ServerChildChannel
where Responder.Context: RequestContext, Responder.Context.Source == ApplicationRequestContextSource {
    /// How a connection's HTTP version is chosen.
    public enum Negotiation: Sendable {
        /// TLS's ALPN (the channel sits behind a TLS handler).
        case alpn
        /// The first bytes: the HTTP/2 preface or not.
        case priorKnowledge
    }

    public enum Connection: Sendable {
        case http1(PipelinedHTTP1Channel<Responder>.Value)
        case http2(HTTP2StreamsChannel<Responder>.Value)
    }

    public struct Value: ServerChildChannelValue {
        let connection: EventLoopFuture<Connection>
        public let channel: any Channel
    }

    let http1: PipelinedHTTP1Channel<Responder>
    let http2: HTTP2StreamsChannel<Responder>
    let negotiation: Negotiation

    public init(http1: PipelinedHTTP1Channel<Responder>, http2: HTTP2StreamsChannel<Responder>, negotiation: Negotiation) {
        self.http1 = http1
        self.http2 = http2
        self.negotiation = negotiation
    }

    /// The listener's open connections (the guard's count, both versions together).
    public var connections: HTTPConnectionCounter? { http1.connections }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let http1 = self.http1
        let http2 = self.http2
        let configureHTTP1: @Sendable (any Channel) -> EventLoopFuture<Connection> = { channel in
            http1.setupCodec(channel: channel, logger: logger).map { .http1($0) }
        }
        let configureHTTP2: @Sendable (any Channel) -> EventLoopFuture<Connection> = { channel in
            channel.eventLoop.makeCompletedFuture { .http2(try http2.configure(channel: channel, logger: logger)) }
        }
        return channel.eventLoop.makeCompletedFuture {
            try http1.addConnectionGuard(to: channel)
            let connection: EventLoopFuture<Connection>
            switch negotiation {
            case .alpn:
                let negotiator = NIOTypedApplicationProtocolNegotiationHandler<Connection> { result, channel in
                    switch result {
                    case .negotiated("h2"):
                        return configureHTTP2(channel)
                    case .negotiated("http/1.1"), .fallback:
                        return configureHTTP1(channel)
                    case .negotiated:
                        // Only what the context offers can be negotiated: this is a bug, not a client.
                        return channel.close().flatMap { channel.eventLoop.makeFailedFuture(NIOHTTP2Errors.invalidALPNToken()) }
                    }
                }
                try channel.pipeline.syncOperations.addHandler(negotiator)
                connection = negotiator.protocolNegotiationResult
            case .priorKnowledge:
                let detector = HTTP2PrefaceDetector<Connection>(eventLoop: channel.eventLoop, http1: configureHTTP1, http2: configureHTTP2)
                try channel.pipeline.syncOperations.addHandler(detector)
                connection = detector.result
            }
            let closer = CloseUntilNegotiated()
            try channel.pipeline.syncOperations.addHandler(closer)
            let bound = NIOLoopBound(closer, eventLoop: channel.eventLoop)
            connection.whenSuccess { _ in
                channel.pipeline.syncOperations.removeHandler(bound.value, promise: nil)
            }
            return Value(connection: connection, channel: channel)
        }
    }

    public func handle(value: Value, logger: Logger) async {
        let connection: Connection
        do {
            connection = try await value.connection.get()
        } catch {
            logger.trace("HTTP connection ended before its version was known", metadata: ["error": "\(error)"])
            return
        }
        switch connection {
        case .http1(let http1Connection):
            await http1.handle(value: http1Connection, logger: logger)
        case .http2(let http2Connection):
            await http2.handle(value: http2Connection, logger: logger)
        }
    }
}

/// Behind the ALPN handler or the preface detector until the connection's HTTP version is known:
/// a graceful shutdown or the client's end of input then closes the connection, which has asked
/// for nothing yet. The HTTP codecs handle both once they are in place; before, the events would
/// reach nobody, and the connection would hold its place (and the shutdown) until its timeout.
final class CloseUntilNegotiated: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny

    init() {}

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelShouldQuiesceEvent, ChannelEvent.inputClosed:
            context.close(promise: nil)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }
}

@available(*, unavailable)
extension CloseUntilNegotiated: Sendable {}
