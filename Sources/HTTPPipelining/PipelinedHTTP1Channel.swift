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

    let responder: Responder
    let overlapKey: OverlapKey
    let configuration: Configuration
    private let codecSetup: HTTP1Channel
    private let dates = HTTPDateCache()
    /// The listener's open connections; nil without limits.
    public let connections: HTTPConnectionCounter?

    public init(responder: Responder, configuration: Configuration = .init(), overlapKey: @escaping OverlapKey = { _ in nil }) {
        self.responder = responder
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
    }

    /// Runs on the connection's event loop (the server's child channel initializer): the guard
    /// goes first, before a byte is parsed, then Hummingbird's HTTP/1 codec.
    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        if let connections {
            do {
                try channel.pipeline.syncOperations.addHandler(
                    HTTPConnectionGuard(counter: connections, onRefusal: configuration.onRefusal), position: .first)
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }
        return codecSetup.setup(channel: channel, logger: logger)
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
                while let request = try await readRequest(&iterator) {
                    let key = request.bodyTooLarge ? nil : overlapKey(request.head)
                    guard let sequence = await pipeline.admit(overlapKey: key) else { break }
                    if request.bodyTooLarge {
                        let refusal = PreparedResponse.closing(.contentTooLarge, code: "body_too_large",
                                                               message: "the request body exceeds \(configuration.maximumBodyBytes) bytes")
                        pipeline.answer(sequence, overlapKey: key, with: refusal)
                        break
                    }
                    let closes = request.head.headerFields[.connection].map { $0.lowercased().contains("close") } ?? false
                    group.addTask {
                        let response = await respond(to: Request(head: request.head, body: RequestBody(buffer: request.body)),
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

    private struct ReadRequest {
        var head: HTTPRequest
        var body: ByteBuffer
        var bodyTooLarge: Bool
    }

    /// The next request with its whole body; nil at the end of the input (also when it ends
    /// within a request, which then never started).
    private func readRequest(_ iterator: inout NIOAsyncChannelInboundStream<HTTPRequestPart>.AsyncIterator) async throws -> ReadRequest? {
        guard let first = try await iterator.next() else { return nil }
        guard case .head(let head) = first else { throw HTTPParserError.invalidInternalState }
        var request = ReadRequest(head: head, body: ByteBuffer(), bodyTooLarge: false)
        while let part = try await iterator.next() {
            switch part {
            case .head:
                throw HTTPParserError.invalidInternalState
            case .body(var chunk):
                if request.body.readableBytes + chunk.readableBytes > configuration.maximumBodyBytes {
                    request.bodyTooLarge = true
                } else if request.body.readableBytes == 0 {
                    request.body = chunk
                } else {
                    request.body.writeBuffer(&chunk)
                }
            case .end:
                return request
            }
        }
        return nil
    }

    /// The router's answer, as `Application` gives it, with its body collected for one write.
    private func respond(to request: Request, channel: any Channel, logger: Logger, closes: Bool) async -> PreparedResponse {
        let context = Responder.Context(source: .init(channel: channel, logger: logger))
        var response: Response
        do {
            response = try await responder.respond(to: request, context: context)
        } catch {
            logger.debug("unrecognised error", metadata: ["error.type": "\(error)"])
            response = Response(status: .internalServerError)
        }
        response.headers[.date] = dates.current
        if let serverName = configuration.serverName { response.headers[.server] = serverName }
        let collected = CollectedBody()
        do {
            try await response.body.write(BodyCollector(collected: collected))
        } catch {
            logger.error("a response body failed while it was written; answering 500", metadata: ["error": "\(error)"])
            return .closing(.internalServerError, code: "internal", message: "the response could not be produced")
        }
        var parts: [HTTPResponsePart] = [.head(response.head)]
        if collected.buffer.readableBytes > 0 { parts.append(.body(collected.buffer)) }
        parts.append(.end(collected.trailers))
        return PreparedResponse(parts: parts, closesConnection: closes)
    }
}

/// An answer ready for the wire.
struct PreparedResponse: Sendable {
    var parts: [HTTPResponsePart]
    /// The connection closes after it.
    var closesConnection: Bool

    /// An error answered by the channel itself, after which the connection closes.
    static func closing(_ status: HTTPResponse.Status, code: String, message: String) -> PreparedResponse {
        // The message is ours (a parser error's case name at most): quotes and backslashes
        // are all it could carry that JSON needs escaped.
        var escaped = ""
        for scalar in message.unicodeScalars {
            if scalar == "\"" || scalar == "\\" { escaped.unicodeScalars.append("\\") }
            escaped.unicodeScalars.append(scalar)
        }
        var body = ByteBuffer()
        body.writeString(#"{"error":{"code":"\#(code)","message":"\#(escaped)"}}"# + "\n")
        let head = HTTPResponse(status: status, headerFields: [
            .contentType: "application/json", .contentLength: "\(body.readableBytes)", .connection: "close",
        ])
        return PreparedResponse(parts: [.head(head), .body(body), .end(nil)], closesConnection: true)
    }
}

/// A response body as written by the route, kept for one write with its head.
final class CollectedBody: @unchecked Sendable {
    // Written by one task (the request's), then read by the same task: no sharing.
    var buffer = ByteBuffer()
    var trailers: HTTPFields?
}

struct BodyCollector: ResponseBodyWriter {
    let collected: CollectedBody

    mutating func write(_ buffer: ByteBuffer) async throws {
        if collected.buffer.readableBytes == 0 {
            collected.buffer = buffer
        } else {
            var buffer = buffer
            collected.buffer.writeBuffer(&buffer)
        }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        collected.trailers = trailingHeaders
    }
}
