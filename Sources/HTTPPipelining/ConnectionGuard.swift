import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The limits one HTTP listener puts on its clients, so that no client can hold the node's
/// connections or memory: how many connections at once (in all, and from one address), how long
/// a connection may sit idle, and how long one request may take to arrive.
public struct HTTPConnectionLimits: Sendable, Equatable {
    /// Connections open at once on the listener; a connection beyond it is answered 503 and
    /// closed at once (never queued).
    public var maximumConnections: Int
    /// Connections open at once from one client IP address (0: no per-address limit).
    public var maximumConnectionsPerAddress: Int
    /// A connection with no request being read and none awaiting its answer is closed after
    /// this long.
    public var idleTimeout: Duration
    /// A request's head and body must have arrived within this long of its first byte (a
    /// client sending its headers or body slowly, slowloris, is closed then).
    public var requestTimeout: Duration
    /// HTTP/2: streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
    public var http2MaximumConcurrentStreams: Int
    /// HTTP/2: the decoded header list of one request, in bytes (SETTINGS_MAX_HEADER_LIST_SIZE).
    public var http2MaximumHeaderListBytes: Int

    /// RFC 9113's recommended floor for SETTINGS_MAX_CONCURRENT_STREAMS, and NIOHTTP2's default.
    public static let defaultHTTP2MaximumConcurrentStreams = 100
    /// NIOHTTP2's default: 16 KiB of headers is far beyond any request the nodes serve.
    public static let defaultHTTP2MaximumHeaderListBytes = 16 << 10

    public init(maximumConnections: Int = 1024, maximumConnectionsPerAddress: Int = 256,
                idleTimeout: Duration = .seconds(60), requestTimeout: Duration = .seconds(10),
                http2MaximumConcurrentStreams: Int = Self.defaultHTTP2MaximumConcurrentStreams,
                http2MaximumHeaderListBytes: Int = Self.defaultHTTP2MaximumHeaderListBytes) {
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerAddress = maximumConnectionsPerAddress
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.http2MaximumConcurrentStreams = http2MaximumConcurrentStreams
        self.http2MaximumHeaderListBytes = http2MaximumHeaderListBytes
    }
}

/// Why the listener ended a connection itself, for the node's metrics.
public enum HTTPConnectionRefusal: String, Sendable, CaseIterable {
    /// Over `maximumConnections`.
    case listenerLimit = "connection_limit"
    /// Over `maximumConnectionsPerAddress`.
    case addressLimit = "address_limit"
    case idleTimeout = "idle_timeout"
    case requestTimeout = "request_timeout"
}

/// The connections open on one listener, in all and per client address. Shared by the
/// listener's connections (on any event loop), hence a lock; each step is a dictionary update.
public final class HTTPConnectionCounter: Sendable {
    private struct State {
        var total = 0
        var byAddress: [String: Int] = [:]
    }

    private let state = Mutex(State())
    let limits: HTTPConnectionLimits

    public init(limits: HTTPConnectionLimits) {
        self.limits = limits
    }

    /// Takes a place for a connection from `address` (nil: unknown, counted in the total only),
    /// or says which limit refuses it.
    func open(address: String?) -> HTTPConnectionRefusal? {
        state.withLock { state in
            guard state.total < limits.maximumConnections else { return .listenerLimit }
            if let address, limits.maximumConnectionsPerAddress > 0 {
                let current = state.byAddress[address, default: 0]
                guard current < limits.maximumConnectionsPerAddress else { return .addressLimit }
                state.byAddress[address] = current + 1
            }
            state.total += 1
            return nil
        }
    }

    /// Gives back the place `open(address:)` took.
    func close(address: String?) {
        state.withLock { state in
            state.total = max(0, state.total - 1)
            guard let address, limits.maximumConnectionsPerAddress > 0, let current = state.byAddress[address] else { return }
            if current <= 1 { state.byAddress[address] = nil } else { state.byAddress[address] = current - 1 }
        }
    }

    /// Connections open now (for tests and gauges).
    public var openConnections: Int { state.withLock { $0.total } }
}

/// Counts events and says when to report them: the first at once, then at most one report per
/// `interval`, each with the count since the previous report.
public final class RateLimitedCount: Sendable {
    private struct State {
        var lastReport: ContinuousClock.Instant?
        var unreported = 0
    }

    private let state = Mutex(State())
    public let interval: Duration

    public init(interval: Duration) {
        self.interval = interval
    }

    /// Records one event; the count to report now, or nil while within the interval.
    public func record(now: ContinuousClock.Instant = .now) -> Int? {
        state.withLock { state in
            state.unreported += 1
            if let last = state.lastReport, now - last < interval { return nil }
            state.lastReport = now
            defer { state.unreported = 0 }
            return state.unreported
        }
    }
}

/// When a connection's time is up, as a pure state machine over a monotonic clock in
/// nanoseconds (passed in): a request being read must be complete within the request timeout of
/// its first byte; a connection with nothing being read and nothing awaiting an answer may stay
/// idle for the idle timeout; while the node works on answers the client is not timed (its
/// wait is not its fault).
///
/// An HTTP/2 connection (after `servesStreams`) carries its requests on streams, each timed by
/// its own `HTTP2StreamRequestDeadline`: its bytes (frames of any stream, pings, settings) say
/// nothing about one request, so only its open streams count here, and a connection without
/// any is idle.
struct ConnectionDeadlines: Sendable {
    let idleTimeout: UInt64
    let requestTimeout: UInt64
    /// The first byte of the request being read; nil between requests.
    private(set) var readingSince: UInt64?
    /// Requests read whole and not yet answered on the wire.
    private(set) var unanswered = 0
    /// Since when nothing has been read or owed (the connection's start, or its last answer).
    private(set) var idleSince: UInt64
    /// The connection speaks HTTP/2: `unanswered` counts its open streams.
    private(set) var multiplexed = false

    init(idleTimeout: Duration, requestTimeout: Duration, now: UInt64) {
        self.idleTimeout = Self.nanoseconds(idleTimeout)
        self.requestTimeout = Self.nanoseconds(requestTimeout)
        self.idleSince = now
    }

    /// A duration in whole nanoseconds, 0 for a negative one, saturating far beyond any timeout.
    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        guard seconds < 1 << 32 else { return UInt64(1) << 62 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }

    /// Bytes came in: a request begins unless one is already being read.
    mutating func bytesArrived(now: UInt64) {
        if readingSince == nil, !multiplexed { readingSince = now }
    }

    /// A request's head was decoded (its bytes may have come with the previous request's end).
    mutating func headRead(now: UInt64) {
        if readingSince == nil, !multiplexed { readingSince = now }
    }

    /// The connection turned out to be HTTP/2 (its preface, or ALPN after the TLS handshake):
    /// what was being read was that, and it is idle until its first stream opens.
    mutating func servesStreams(now: UInt64) {
        multiplexed = true
        readingSince = nil
        unanswered = 0
        idleSince = now
    }

    /// An HTTP/2 stream opened: the connection is not idle until every open stream closed.
    mutating func streamOpened() {
        unanswered += 1
    }

    /// An HTTP/2 stream closed (answered, or reset by either side).
    mutating func streamClosed(now: UInt64) {
        answerWritten(now: now)
    }

    /// A request was read whole.
    mutating func requestRead() {
        readingSince = nil
        unanswered += 1
    }

    /// An answer was written whole.
    mutating func answerWritten(now: UInt64) {
        unanswered = max(0, unanswered - 1)
        if unanswered == 0 { idleSince = now }
    }

    /// The instant (same clock) at which the connection is closed unless something happens
    /// first, and why; nil while the node owes answers and nothing is being read.
    var deadline: (at: UInt64, reason: HTTPConnectionRefusal)? {
        if let readingSince { return (readingSince &+ requestTimeout, .requestTimeout) }
        guard unanswered == 0 else { return nil }
        return (idleSince &+ idleTimeout, .idleTimeout)
    }
}

/// First in a connection's pipeline: takes the connection's place in the listener's count
/// (refusing it with a 503 when over a limit), notes every arriving byte for the request
/// timeout, and closes the connection when its deadline passes. The second half,
/// `HTTPDeadlinePartsHandler`, sits behind the HTTP codec and reports request and answer ends.
final class HTTPConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let counter: HTTPConnectionCounter
    private let onRefusal: @Sendable (HTTPConnectionRefusal) -> Void
    private var address: String?
    private var counted = false
    private var refused = false
    private var deadlines: ConnectionDeadlines
    private var timer: Scheduled<Void>?
    private var timerAt: UInt64?

    init(counter: HTTPConnectionCounter, onRefusal: @escaping @Sendable (HTTPConnectionRefusal) -> Void) {
        self.counter = counter
        self.onRefusal = onRefusal
        deadlines = ConnectionDeadlines(idleTimeout: counter.limits.idleTimeout, requestTimeout: counter.limits.requestTimeout,
                                        now: Self.now())
    }

    /// How long a refused connection's input is drained before it is closed.
    static let refusalLinger = TimeAmount.milliseconds(500)

    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !counted, !refused else { return }
        address = context.channel.remoteAddress?.ipAddress
        if let refusal = counter.open(address: address) {
            refused = true
            onRefusal(refusal)
            // Answered on the raw connection before any request is read: the client learns why
            // (and may retry later) instead of seeing a bare reset.
            let body = #"{"error":{"code":"too_many_connections","message":"the server has too many open connections; retry later"}}"# + "\n"
            var refusalBytes = context.channel.allocator.buffer(capacity: 200 + body.utf8.count)
            refusalBytes.writeString("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\nRetry-After: 1\r\n\r\n")
            refusalBytes.writeString(body)
            // Then only the output is closed, and the input read and dropped for a moment:
            // closing with the client's request unread would reset the connection, and the
            // reset can discard the 503 before the client reads it.
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(refusalBytes)).whenComplete { _ in
                bound.value.close(mode: .output, promise: nil)
            }
            context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: Self.refusalLinger) {
                bound.value.close(promise: nil)
            }
            return
        }
        counted = true
        deadlines = ConnectionDeadlines(idleTimeout: counter.limits.idleTimeout, requestTimeout: counter.limits.requestTimeout,
                                        now: Self.now())
        schedule(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        release()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        release()
    }

    private func release() {
        timer?.cancel()
        timer = nil
        timerAt = nil
        if counted {
            counted = false
            counter.close(address: address)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A refused connection's input is never parsed.
        guard !refused else { return }
        deadlines.bytesArrived(now: Self.now())
        schedule(context)
        context.fireChannelRead(data)
    }

    func headRead(_ context: ChannelHandlerContext) {
        deadlines.headRead(now: Self.now())
        schedule(context)
    }

    func requestRead(_ context: ChannelHandlerContext) {
        deadlines.requestRead()
        schedule(context)
    }

    func answerWritten(_ context: ChannelHandlerContext) {
        deadlines.answerWritten(now: Self.now())
        schedule(context)
    }

    /// The connection speaks HTTP/2 from now on (see `ConnectionDeadlines`).
    func servesStreams(_ context: ChannelHandlerContext) {
        deadlines.servesStreams(now: Self.now())
        // The deadline may have moved later (a TLS handshake's request timeout became the idle
        // timeout): the timer finds that when it fires and looks again.
        schedule(context)
    }

    func streamOpened(_ context: ChannelHandlerContext) {
        deadlines.streamOpened()
        schedule(context)
    }

    func streamClosed(_ context: ChannelHandlerContext) {
        deadlines.streamClosed(now: Self.now())
        schedule(context)
    }

    /// Keeps one timer at the connection's deadline: an earlier deadline moves it; a later one
    /// is found when the timer fires and looks again.
    private func schedule(_ context: ChannelHandlerContext) {
        guard counted, let deadline = deadlines.deadline else { return }
        if let timerAt, timerAt <= deadline.at { return }
        timer?.cancel()
        timerAt = deadline.at
        timer = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: NIODeadline.uptimeNanoseconds(deadline.at)) { [self] in
            timer = nil
            timerAt = nil
            guard counted else { return }
            guard let current = deadlines.deadline else { return }
            if current.at <= Self.now() {
                onRefusal(current.reason)
                context.close(promise: nil)
            } else {
                schedule(context)
            }
        }
    }
}

/// Behind the HTTP codec: tells `HTTPConnectionGuard` when a request was read whole and when its
/// answer was written, which is what the guard's deadlines follow.
final class HTTPDeadlinePartsHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var connectionGuard: HTTPConnectionGuard?
    private var guardContext: ChannelHandlerContext?

    init() {}

    /// The guard is found in the pipeline (it is created first, per connection, by the channel
    /// setup; the codec's extra handlers are made by a closure that cannot carry it).
    func handlerAdded(context: ChannelHandlerContext) {
        guard let found = try? context.pipeline.syncOperations.handler(type: HTTPConnectionGuard.self) else { return }
        connectionGuard = found
        guardContext = try? context.pipeline.syncOperations.context(handler: found)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        connectionGuard = nil
        guardContext = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let connectionGuard, let guardContext {
            switch unwrapInboundIn(data) {
            case .head: connectionGuard.headRead(guardContext)
            case .body: break
            case .end: connectionGuard.requestRead(guardContext)
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if let connectionGuard, let guardContext, case .end = unwrapOutboundIn(data) { connectionGuard.answerWritten(guardContext) }
        context.write(data, promise: promise)
    }
}

@available(*, unavailable)
extension HTTPConnectionGuard: Sendable {}

@available(*, unavailable)
extension HTTPDeadlinePartsHandler: Sendable {}
