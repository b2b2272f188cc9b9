import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP2
import NIOHTTPTypes
import NIOHTTPTypesHTTP2

/// HTTP/2 for Hummingbird's router: each stream is one request, read whole (up to
/// `maximumBodyBytes`, else the same 413 as on HTTP/1.1) and answered by the same
/// `RouterExchange` as `PipelinedHTTP1Channel`'s, so routes, middleware and metrics behave the
/// same. Streams run side by side: that is what HTTP/2 is for, and a client that needs an
/// order between two requests waits for the first answer.
///
/// The connection is swift-nio-http2's (`NIOHTTP2Handler`, which answers malformed input with
/// GOAWAY or RST_STREAM, and its `NIOHTTP2ServerConnectionManagementHandler` for graceful
/// shutdown); Hummingbird's `HTTP2Channel` is not used as it is because it fixes the HTTP/2
/// settings (no stream or header list limit of ours) and streams bodies to the route.
///
/// Set up alone, the connection speaks HTTP/2 from its first byte; `HTTPVersionChannel` puts it
/// behind ALPN or a preface check and the listener's `HTTPConnectionGuard`.
public struct HTTP2StreamsChannel<Responder: HTTPResponder>: ServerChildChannel
where Responder.Context: RequestContext, Responder.Context.Source == ApplicationRequestContextSource {
    public typealias Stream = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    public struct Value: ServerChildChannelValue {
        let streams: NIOHTTP2Handler.AsyncStreamMultiplexer<Stream>
        public let channel: any Channel
    }

    public struct Configuration: Sendable {
        /// The `Server` header of every answer.
        public var serverName: String?
        /// A request body is read whole before its request starts, up to this many bytes.
        public var maximumBodyBytes: Int
        /// SETTINGS_MAX_CONCURRENT_STREAMS: streams a client may have open at once on a
        /// connection; NIOHTTP2 answers one more with GOAWAY (PROTOCOL_ERROR).
        public var maximumConcurrentStreams = HTTPConnectionLimits.defaultHTTP2MaximumConcurrentStreams
        /// SETTINGS_MAX_HEADER_LIST_SIZE: the decoded header list of one request, in bytes.
        public var maximumHeaderListBytes = HTTPConnectionLimits.defaultHTTP2MaximumHeaderListBytes
        /// After a graceful shutdown begins (GOAWAY), open streams get this long to finish.
        public var gracefulCloseTimeout: TimeAmount = .seconds(30)
        /// The request timeout of each stream; nil: none (tests only). The connection's idle
        /// timeout and connection limits are the guard's (`HTTPVersionChannel`).
        public var requestTimeout: Duration?
        /// Called when a stream is reset over its request timeout (for metrics).
        public var onRefusal: @Sendable (HTTPConnectionRefusal) -> Void = { _ in }

        public init(serverName: String? = nil, maximumBodyBytes: Int = 1 << 20) {
            self.serverName = serverName
            self.maximumBodyBytes = maximumBodyBytes
        }

        /// The limits of a listener that also serves HTTP/1.1 with `http1`.
        public init<HTTP1Responder>(matching http1: PipelinedHTTP1Channel<HTTP1Responder>.Configuration) {
            self.init(serverName: http1.serverName, maximumBodyBytes: http1.maximumBodyBytes)
            if let limits = http1.limits {
                maximumConcurrentStreams = limits.http2MaximumConcurrentStreams
                maximumHeaderListBytes = limits.http2MaximumHeaderListBytes
                requestTimeout = limits.requestTimeout
            }
            onRefusal = http1.onRefusal
        }

        var http2Handler: NIOHTTP2Handler.Configuration {
            var handler = NIOHTTP2Handler.Configuration()
            handler.connection.initialSettings = [
                HTTP2Setting(parameter: .maxConcurrentStreams, value: maximumConcurrentStreams),
                HTTP2Setting(parameter: .maxHeaderListSize, value: maximumHeaderListBytes),
            ]
            return handler
        }

        var connectionManager: NIOHTTP2ServerConnectionManagementHandler.Configuration {
            // The idle timeout is the guard's (it also covers a connection that never opens a
            // stream); no keep-alive pings: an idle client is closed, not kept.
            .init(maxIdleTime: nil, maxAge: nil, maxGraceTime: gracefulCloseTimeout, keepalive: nil)
        }
    }

    let configuration: Configuration
    private let exchange: RouterExchange<Responder>

    public init(responder: Responder, configuration: Configuration = .init()) {
        self.configuration = configuration
        exchange = RouterExchange(responder: responder, serverName: configuration.serverName,
                                  maximumBodyBytes: configuration.maximumBodyBytes, dates: HTTPDateCache())
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try configure(channel: channel, logger: logger)
        }
    }

    /// Adds the HTTP/2 connection behind whatever the pipeline has; on the channel's event loop.
    func configure(channel: any Channel, logger: Logger) throws -> Value {
        let configuration = self.configuration
        let streams = try channel.pipeline.syncOperations.configureAsyncHTTP2Pipeline(
            mode: .server, connectionManagerConfiguration: configuration.connectionManager,
            http2HandlerConfiguration: configuration.http2Handler
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTPServerCodec())
                if let requestTimeout = configuration.requestTimeout {
                    try stream.pipeline.syncOperations.addHandler(
                        HTTP2StreamRequestDeadline(timeout: TimeAmount(requestTimeout), onRefusal: configuration.onRefusal))
                }
                return try Stream(wrappingChannelSynchronously: stream)
            }
        }
        try channel.pipeline.syncOperations.addHandler(HTTP2StreamEventsHandler(gracefulCloseTimeout: configuration.gracefulCloseTimeout))
        return Value(streams: streams, channel: channel)
    }

    /// Serves each stream in its own task until the connection ends. NIOHTTP2 bounds the
    /// streams open at once (`maximumConcurrentStreams`).
    public func handle(value: Value, logger: Logger) async {
        do {
            try await withThrowingDiscardingTaskGroup { group in
                for try await stream in value.streams.inbound {
                    group.addTask { await serve(stream, logger: logger) }
                }
            }
        } catch {
            logger.trace("HTTP/2 connection ended", metadata: ["error": "\(error)"])
        }
    }

    private func serve(_ stream: Stream, logger: Logger) async {
        do {
            try await stream.executeThenClose { inbound, outbound in
                var iterator = inbound.makeAsyncIterator()
                guard let request = try await exchange.readRequest(&iterator) else { return }
                let answer = request.bodyTooLarge
                    ? exchange.bodyTooLarge(closesConnection: false)
                    : await exchange.respond(to: Request(head: request.head, body: RequestBody(buffer: request.body)),
                                             channel: stream.channel, logger: logger, closes: false)
                try await outbound.write(contentsOf: answer.http2Parts)
            }
        } catch {
            logger.trace("HTTP/2 stream ended", metadata: ["error": "\(error)"])
        }
    }
}
