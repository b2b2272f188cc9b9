import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// One request through Hummingbird's router, the same for HTTP/1.1 and HTTP/2: the request is
/// read whole first (up to `maximumBodyBytes`), the answer is the router's as `Application` gives
/// it (a 500 for an unexpected error, the `Date` and `Server` headers), collected for one write.
struct RouterExchange<Responder: HTTPResponder>: Sendable
where Responder.Context: RequestContext, Responder.Context.Source == ApplicationRequestContextSource {
    let responder: Responder
    let serverName: String?
    let maximumBodyBytes: Int
    let dates: HTTPDateCache

    struct ReadRequest {
        var head: HTTPRequest
        var body: ByteBuffer
        var bodyTooLarge: Bool
    }

    /// The next request with its whole body; nil at the end of the input (also when it ends
    /// within a request, which then never started). A body over the limit is read to its end
    /// and dropped, and the request marked.
    func readRequest(_ iterator: inout NIOAsyncChannelInboundStream<HTTPRequestPart>.AsyncIterator) async throws -> ReadRequest? {
        guard let first = try await iterator.next() else { return nil }
        guard case .head(let head) = first else { throw HTTPParserError.invalidInternalState }
        var request = ReadRequest(head: head, body: ByteBuffer(), bodyTooLarge: false)
        while let part = try await iterator.next() {
            switch part {
            case .head:
                throw HTTPParserError.invalidInternalState
            case .body(var chunk):
                if request.bodyTooLarge || request.body.readableBytes + chunk.readableBytes > maximumBodyBytes {
                    request.bodyTooLarge = true
                    request.body = ByteBuffer()
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

    /// The answer to a body over `maximumBodyBytes`.
    func bodyTooLarge(closesConnection: Bool) -> PreparedResponse {
        .refusal(.contentTooLarge, code: "body_too_large", message: "the request body exceeds \(maximumBodyBytes) bytes",
                 closesConnection: closesConnection)
    }

    /// The router's answer, as `Application` gives it, with its body collected for one write.
    /// `channel` is the request's own: the connection's on HTTP/1.1, the stream's on HTTP/2.
    func respond(to request: Request, channel: any Channel, logger: Logger, closes: Bool) async -> PreparedResponse {
        let context = Responder.Context(source: .init(channel: channel, logger: logger))
        var response: Response
        do {
            response = try await responder.respond(to: request, context: context)
        } catch {
            logger.debug("unrecognised error", metadata: ["error.type": "\(error)"])
            response = Response(status: .internalServerError)
        }
        response.headers[.date] = dates.current
        if let serverName { response.headers[.server] = serverName }
        let collected = CollectedBody()
        do {
            try await response.body.write(BodyCollector(collected: collected))
        } catch {
            logger.error("a response body failed while it was written; answering 500", metadata: ["error": "\(error)"])
            return .refusal(.internalServerError, code: "internal", message: "the response could not be produced", closesConnection: true)
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
    /// The connection closes after it (HTTP/1.1; on HTTP/2 only the stream ends).
    var closesConnection: Bool

    /// An error answered by the channel itself; `closesConnection` adds `Connection: close`.
    static func refusal(_ status: HTTPResponse.Status, code: String, message: String, closesConnection: Bool) -> PreparedResponse {
        // The message is ours (a parser error's case name at most): quotes and backslashes
        // are all it could carry that JSON needs escaped.
        var escaped = ""
        for scalar in message.unicodeScalars {
            if scalar == "\"" || scalar == "\\" { escaped.unicodeScalars.append("\\") }
            escaped.unicodeScalars.append(scalar)
        }
        var body = ByteBuffer()
        body.writeString(#"{"error":{"code":"\#(code)","message":"\#(escaped)"}}"# + "\n")
        var head = HTTPResponse(status: status, headerFields: [
            .contentType: "application/json", .contentLength: "\(body.readableBytes)",
        ])
        if closesConnection { head.headerFields[.connection] = "close" }
        return PreparedResponse(parts: [.head(head), .body(body), .end(nil)], closesConnection: closesConnection)
    }

    /// An error answered by the HTTP/1.1 channel itself, after which the connection closes.
    static func closing(_ status: HTTPResponse.Status, code: String, message: String) -> PreparedResponse {
        refusal(status, code: code, message: message, closesConnection: true)
    }

    /// Connection-specific fields an HTTP/2 message must not carry (RFC 9113, 8.2.2): a route
    /// or a refusal may set them for HTTP/1.1, and NIOHTTP2 would reset the stream.
    static let connectionSpecificFields: [HTTPField.Name] = [
        .connection, .transferEncoding, .upgrade, HTTPField.Name("Proxy-Connection")!, HTTPField.Name("Keep-Alive")!,
    ]

    /// The parts for an HTTP/2 stream: the head without connection-specific fields.
    var http2Parts: [HTTPResponsePart] {
        parts.map { part in
            guard case .head(var head) = part else { return part }
            for name in Self.connectionSpecificFields { head.headerFields[name] = nil }
            return .head(head)
        }
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
