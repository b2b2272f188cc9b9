import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Hummingbird's HTTP/1.1 child channel, serving a connection's pipelined requests side by side
/// where they commute (see `PipelineSchedule`): a client with N requests in flight on one
/// connection has them in the same group commit and reads their answers in one segment,
/// instead of paying a commit wait, a read and a write per request in turn. Answers still go out
/// in request order, and together when several are ready (one flush).
///
/// The channel setup (HTTP codec, idle timeout) is Hummingbird's `HTTP1Channel`'s; the request
/// handling mirrors `Application`'s (the router's response, a 500 for an unexpected error, the
/// `Date` and `Server` headers), with each request's body read whole before it starts (up to
/// `maximumBodyBytes`; a larger one is answered 413 and the connection closed).
public struct PipelinedHTTP1Channel<Responder: HTTPResponder>: ServerChildChannel
where Responder.Context: RequestContext, Responder.Context.Source == ApplicationRequestContextSource {
    public typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>
    /// The key under which a request commutes with every request of a different key, or nil
    /// when it must wait for the requests before it (see `PipelineSchedule`).
    public typealias OverlapKey = @Sendable (HTTPRequest) -> String?

    public struct Configuration: Sendable {
        /// The `Server` header of every answer.
        public var serverName: String?
        /// Requests of one connection admitted and not yet answered on the wire.
        public var maximumPipelineDepth = 32
        /// A request body is read whole before its request starts, up to this many bytes.
        public var maximumBodyBytes: Int
        /// The codec's limits (its idle timeout is left off: `limits` has the timeouts).
        public var http1 = HTTP1Channel.Configuration()
        /// Connections at once and the idle and request timeouts; nil: none (tests only).
        public var limits: HTTPConnectionLimits?
        /// Called when the listener refuses or closes a connection itself (for metrics).
        public var onRefusal: @Sendable (HTTPConnectionRefusal) -> Void = { _ in }

        public init(serverName: String? = nil, maximumBodyBytes: Int = 1 << 20) {
            self.serverName = serverName
            self.maximumBodyBytes = maximumBodyBytes
        }
    }

    let overlapKey: OverlapKey
    let configuration: Configuration
    private let codecSetup: HTTP1Channel
    private let exchange: RouterExchange<Responder>
    /// The listener's open connections; nil without limits.
    public let connections: HTTPConnectionCounter?

    public init(responder: Responder, configuration: Configuration = .init(), overlapKey: @escaping OverlapKey = { _ in nil }) {
        self.overlapKey = overlapKey
        self.configuration = configuration
        var http1 = configuration.http1
        if configuration.limits != nil {
            let extra = http1.additionalChannelHandlers
            http1.additionalChannelHandlers = { [HTTPDeadlinePartsHandler()] + extra() }
        }
        // Only its channel setup is used; requests never reach this responder.
        codecSetup = HTTP1Channel(responder: { _, _, _ in }, configuration: http1)
        connections = configuration.limits.map(HTTPConnectionCounter.init(limits:))
        exchange = RouterExchange(responder: responder, serverName: configuration.serverName,
                                  maximumBodyBytes: configuration.maximumBodyBytes, dates: HTTPDateCache())
    }

    /// Runs on the connection's event loop (the server's child channel initializer): the guard
    /// goes first, before a byte is parsed, then Hummingbird's HTTP/1 codec.
    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try addConnectionGuard(to: channel)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return setupCodec(channel: channel, logger: logger)
    }

    /// The guard, first in the pipeline (when the channel has limits): `HTTPVersionChannel`
    /// puts it there before it knows which HTTP the connection speaks.
    func addConnectionGuard(to channel: any Channel) throws {
        guard let connections else { return }
        try channel.pipeline.syncOperations.addHandler(
            HTTPConnectionGuard(counter: connections, onRefusal: configuration.onRefusal), position: .first)
    }

    /// Hummingbird's HTTP/1 codec behind whatever the pipeline has.
    func setupCodec(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        codecSetup.setup(channel: channel, logger: logger)
    }

    public func handle(value asyncChannel: Value, logger: Logger) async {
        do {
            try await withTaskCancellationHandler {
                try await asyncChannel.executeThenClose { inbound, outbound in
                    try await serve(inbound: inbound, outbound: outbound, channel: asyncChannel.channel, logger: logger)
                    outbound.finish()
                    try await asyncChannel.channel.closeFuture.get()
                }
            } onCancel: {
                asyncChannel.channel.close(mode: .input, promise: nil)
            }
        } catch {
            logger.trace("HTTP connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// The connection's reader (this task) admits requests and starts each in its own child
    /// task; the writer (another child) writes their answers in order.
    private func serve(inbound: NIOAsyncChannelInboundStream<HTTPRequestPart>, outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>,
                       channel: any Channel, logger: Logger) async throws {
        let pipeline = HTTPPipeline<PreparedResponse>(maximumDepth: configuration.maximumPipelineDepth)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                defer { pipeline.stop() }
                while let answers = await pipeline.nextWritable() {
                    do {
                        try await outbound.write(contentsOf: answers.flatMap(\.parts))
                    } catch {
                        channel.close(promise: nil)
                        throw error
                    }
                    if answers.contains(where: \.closesConnection) { return }
                }
            }
            var iterator = inbound.makeAsyncIterator()
            do {
                while let request = try await exchange.readRequest(&iterator) {
                    let key = request.bodyTooLarge ? nil : overlapKey(request.head)
                    guard let sequence = await pipeline.admit(overlapKey: key) else { break }
                    if request.bodyTooLarge {
                        pipeline.answer(sequence, overlapKey: key, with: exchange.bodyTooLarge(closesConnection: true))
                        break
                    }
                    let closes = request.head.headerFields[.connection].map { $0.lowercased().contains("close") } ?? false
                    group.addTask {
                        let response = await exchange.respond(to: Request(head: request.head, body: RequestBody(buffer: request.body)),
                                                     channel: channel, logger: logger, closes: closes)
                        pipeline.answer(sequence, overlapKey: key, with: response)
                    }
                    if closes { break }
                }
            } catch let error as HTTPParserError {
                logger.debug("HTTP parse error, closing the connection", metadata: ["error": "\(error)"])
                // Answered after every request before it, like any request without an overlap key.
                if let sequence = await pipeline.admit(overlapKey: nil) {
                    pipeline.answer(sequence, overlapKey: nil,
                                    with: .closing(.badRequest, code: "malformed_request", message: "malformed HTTP request: \(error)"))
                }
            } catch {
                pipeline.stop()
                throw error
            }
            pipeline.finishReading()
        }
    }
}
