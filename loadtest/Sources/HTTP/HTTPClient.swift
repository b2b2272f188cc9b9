import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// One HTTP response, body collected.
struct HTTPResponse: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: ByteBuffer

    var bodyBytes: [UInt8] { Array(body.readableBytesView) }
}

struct HTTPClientError: Error, CustomStringConvertible {
    var description: String
}

/// A request travelling down the pipeline with the promise its response completes.
struct PendingHTTPRequest: Sendable {
    var head: HTTPRequestHead
    var body: ByteBuffer?
    var promise: EventLoopPromise<HTTPResponse>
    /// The response must have arrived by then, else the connection is closed (a pipelined
    /// connection whose oldest response is late holds every later one too).
    var deadline: NIODeadline
}

/// Turns the flush after each pipelined request into one flush per event-loop tick: requests
/// written by many tasks at once leave in one `write(2)` instead of one each (the load
/// generator must stay cheaper than the node it measures).
final class FlushCoalescingHandler: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny
    private var flushScheduled = false

    func flush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, context) = loopBound.value
            handler.flushScheduled = false
            context.flush()
        }
    }
}

/// Collects one response's parts into a whole response, part by part as they are read.
struct HTTPResponseAssembler {
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?

    /// The complete response when `part` ends one; nil while it is still arriving, and for an
    /// end with no head before it.
    mutating func add(_ part: HTTPClientResponsePart) -> HTTPResponse? {
        switch part {
        case .head(let responseHead):
            head = responseHead
            body = nil
            return nil
        case .body(var bytes):
            if body == nil { body = bytes } else { body!.writeBuffer(&bytes) }
            return nil
        case .end:
            defer { head = nil; body = nil }
            guard let head else { return nil }
            return HTTPResponse(status: Int(head.status.code), headers: head.headers, body: body ?? ByteBuffer())
        }
    }
}

/// Turns `PendingHTTPRequest`s into HTTP/1.1 parts and completes their promises in order as the
/// responses come back: HTTP/1.1 pipelining, so one connection carries many requests in flight
/// without a round trip each (the payment API answers in request order).
final class PipelinedResponseHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = PendingHTTPRequest
    typealias OutboundOut = HTTPClientRequestPart

    private var waiting = CircularBuffer<(promise: EventLoopPromise<HTTPResponse>, deadline: NIODeadline)>()
    private var response = HTTPResponseAssembler()
    private var deadlineCheck: RepeatedTask?
    /// How often the oldest waiting request's deadline is checked (one timer per connection
    /// instead of one per request).
    static let deadlineCheckInterval = TimeAmount.milliseconds(250)

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadlineCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: Self.deadlineCheckInterval,
                                                               delay: Self.deadlineCheckInterval) { _ in
            let (handler, context) = loopBound.value
            guard let oldest = handler.waiting.first, oldest.deadline < .now() else { return }
            handler.failAll(HTTPClientError(description: "no response within the request's timeout"))
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadlineCheck?.cancel()
        deadlineCheck = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        waiting.append((request.promise, request.deadline))
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        if let body = request.body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard let complete = response.add(part) else {
            if case .end = part { context.fireErrorCaught(HTTPClientError(description: "a response ended that never began")) }
            return
        }
        guard let promise = waiting.popFirst()?.promise else {
            context.fireErrorCaught(HTTPClientError(description: "a response arrived with no request waiting"))
            return
        }
        promise.succeed(complete)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(HTTPClientError(description: "connection closed"))
        context.fireChannelInactive()
    }

    private func failAll(_ error: any Error) {
        while let waiter = waiting.popFirst() { waiter.promise.fail(error) }
    }
}

/// A small pool of keep-alive HTTP/1.1 connections to one server, pipelined, or with `http2`
/// of HTTP/2 connections with a stream per request (`HTTP2Connection`). A connection that
/// fails is replaced on next use, so callers only retry their request (the node may have been
/// SIGKILLed and restarted on the same port).
final class HTTPClient: Sendable {
    let host: String
    private let port: Mutex<Int>
    private let connections: [ConnectionSlot]
    /// HTTP/2 instead of HTTP/1.1: these slots instead of `connections`.
    private let http2Connections: [HTTP2ConnectionSlot]?
    private let nextConnection = Atomic<Int>(0)
    private let group: any EventLoopGroup
    /// `Bearer pk_...` on every request (`APIKeyHeader`).
    private let authorization: String?
    /// HTTPS, verified against the context's CA, when set.
    private let tls: NIOSSLContext?

    /// `http2`: with `tls`, the context must offer `h2` by ALPN.
    init(host: String, port: Int, connections: Int, tls: NIOSSLContext? = nil, http2: Bool = false,
         group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.host = host
        self.tls = tls
        self.port = Mutex(port)
        self.connections = (0..<max(1, connections)).map { _ in ConnectionSlot() }
        self.http2Connections = http2 ? (0..<max(1, connections)).map { _ in HTTP2ConnectionSlot() } : nil
        self.group = group
        self.authorization = APIKeyHeader.value
    }

    /// Points the pool at another port (a node restarted on a new one); open connections close.
    func retarget(port newPort: Int) {
        port.withLock { $0 = newPort }
        shutdown()
    }

    func request(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil,
                 headers extraHeaders: [(String, String)] = [], timeout: TimeAmount = .seconds(30)) async throws -> HTTPResponse {
        let index = nextConnection.wrappingAdd(1, ordering: .relaxed).oldValue % connections.count
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: host)
        if let authorization { headers.add(name: "Authorization", value: authorization) }
        if let body {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.count))
        }
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
        if let http2Connections {
            let connection = try await http2Connection(http2Connections[index])
            let promise = connection.channel.eventLoop.makePromise(of: HTTPResponse.self)
            let request = PendingHTTPRequest(head: head, body: body.map { ByteBuffer(bytes: $0) }, promise: promise,
                                             deadline: .now() + timeout)
            do {
                try await connection.send(request)
            } catch {
                promise.fail(error)
            }
            return try await promise.futureResult.get()
        }
        let channel = try await channel(at: index)
        let promise = channel.eventLoop.makePromise(of: HTTPResponse.self)
        channel.writeAndFlush(PendingHTTPRequest(head: head, body: body.map { ByteBuffer(bytes: $0) }, promise: promise,
                                                 deadline: .now() + timeout))
            .whenFailure { promise.fail($0) }
        return try await promise.futureResult.get()
    }

    func get(_ path: String) async throws -> HTTPResponse { try await request(.GET, path) }

    private func channel(at index: Int) async throws -> any Channel {
        if let open = connections[index].current, open.isActive { return open }
        let target = port.withLock { $0 }
        let tls = self.tls
        let host = self.host
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try tlsClientHandler(tls, host: host)) }
                    try channel.pipeline.syncOperations.addHandler(FlushCoalescingHandler())
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(PipelinedResponseHandler())
                }
            }
            .connect(host: host, port: target).get()
        // Two callers may have raced to reconnect the same slot: keep one, close the other.
        let kept = connections[index].keepActive(or: channel)
        if kept !== channel { channel.close(promise: nil) }
        return kept
    }

    /// The slot's HTTP/2 connection, connected again when it failed.
    private func http2Connection(_ slot: HTTP2ConnectionSlot) async throws -> HTTP2Connection {
        if let open = slot.current, open.channel.isActive { return open }
        let fresh = try await HTTP2Connection.connect(host: host, port: port.withLock { $0 }, tls: tls, group: group)
        let kept = slot.keepActive(or: fresh)
        if kept.channel !== fresh.channel { fresh.channel.close(promise: nil) }
        return kept
    }

    func shutdown() {
        for slot in connections { slot.replace(with: nil) }
        for slot in http2Connections ?? [] { slot.close() }
    }
}

/// One pooled connection, replaced when it fails.
final class ConnectionSlot: Sendable {
    private let channel = Mutex<(any Channel)?>(nil)

    var current: (any Channel)? { channel.withLock { $0 } }

    /// The slot's channel if it is still active, else `candidate`, which then fills the slot.
    func keepActive(or candidate: any Channel) -> any Channel {
        channel.withLock { slot in
            if let existing = slot, existing.isActive { return existing }
            slot = candidate
            return candidate
        }
    }

    /// Closes the current channel and puts `replacement` in its place.
    func replace(with replacement: (any Channel)?) {
        let old = channel.withLock { slot -> (any Channel)? in
            defer { slot = replacement }
            return slot
        }
        old?.close(promise: nil)
    }
}

/// TLS first in a client pipeline; an IP address is verified against the certificate's IP
/// names (it may not be sent as SNI).
func tlsClientHandler(_ context: NIOSSLContext, host: String) throws -> NIOSSLClientHandler {
    let serverHostname = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
    return try NIOSSLClientHandler(context: context, serverHostname: serverHostname)
}
