import NIOCore
import NIOHTTP2
import NIOHTTPTypes

/// Last in an HTTP/2 connection's pipeline: tells `HTTPConnectionGuard` when streams open and
/// close, which is what the guard's idle timeout follows on HTTP/2 (the counterpart of
/// `HTTPDeadlinePartsHandler` on HTTP/1.1), and ends the connection where NIOHTTP2 leaves that
/// to the pipeline: after a connection error (NIOHTTP2 has sent its GOAWAY), and once every open
/// stream is answered after the client closed its side or a graceful shutdown began (the
/// connection manager's GOAWAY is out; a client that never acknowledges its PING must not hold
/// the shutdown), at the latest `gracefulCloseTimeout` after the shutdown began.
final class HTTP2StreamEventsHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame

    private var connectionGuard: HTTPConnectionGuard?
    private var guardContext: ChannelHandlerContext?
    /// The streams reported open: a close is reported only for those (NIOHTTP2 also closes
    /// streams it refused, which never opened here), so the count cannot drift.
    private var open: Set<HTTP2StreamID> = []
    /// The client half-closed the connection, or a graceful shutdown began: no new streams.
    private var closesWhenIdle = false
    private let gracefulCloseTimeout: TimeAmount

    init(gracefulCloseTimeout: TimeAmount) {
        self.gracefulCloseTimeout = gracefulCloseTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard let found = try? context.pipeline.syncOperations.handler(type: HTTPConnectionGuard.self),
              let foundContext = try? context.pipeline.syncOperations.context(handler: found) else { return }
        connectionGuard = found
        guardContext = foundContext
        found.servesStreams(foundContext)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        connectionGuard = nil
        guardContext = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let created as NIOHTTP2StreamCreatedEvent:
            if open.insert(created.streamID).inserted, let connectionGuard, let guardContext {
                connectionGuard.streamOpened(guardContext)
            }
        case let closed as StreamClosedEvent:
            if open.remove(closed.streamID) != nil {
                if let connectionGuard, let guardContext { connectionGuard.streamClosed(guardContext) }
                if closesWhenIdle, open.isEmpty { context.close(promise: nil) }
            }
        case ChannelEvent.inputClosed:
            closesWhenIdle = true
            if open.isEmpty { context.close(promise: nil) }
        case is ChannelShouldQuiesceEvent:
            closesWhenIdle = true
            if open.isEmpty {
                context.close(promise: nil)
            } else {
                context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: gracefulCloseTimeout) {
                    context.close(promise: nil)
                }
            }
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A stream error has reset its stream (RST_STREAM); the connection goes on.
        if error is NIOHTTP2Errors.StreamError { return }
        context.close(promise: nil)
    }
}

/// In each HTTP/2 stream's pipeline: its request (headers and body) must have arrived within
/// the request timeout of the stream's start, or the stream is reset; the connection and its
/// other streams go on. The HTTP/2 form of the guard's request timeout.
final class HTTP2StreamRequestDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let timeout: TimeAmount
    private let onRefusal: @Sendable (HTTPConnectionRefusal) -> Void
    private var timer: Scheduled<Void>?
    private var requestRead = false

    init(timeout: TimeAmount, onRefusal: @escaping @Sendable (HTTPConnectionRefusal) -> Void) {
        self.timeout = timeout
        self.onRefusal = onRefusal
    }

    func handlerAdded(context: ChannelHandlerContext) {
        start(context)
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard timer == nil, !requestRead else { return }
        timer = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: timeout) { [self] in
            timer = nil
            guard !requestRead else { return }
            onRefusal(.requestTimeout)
            // Closing a stream that is still open resets it (RST_STREAM), not the connection.
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) {
            requestRead = true
            stop()
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    private func stop() {
        timer?.cancel()
        timer = nil
    }
}

@available(*, unavailable)
extension HTTP2StreamEventsHandler: Sendable {}

@available(*, unavailable)
extension HTTP2StreamRequestDeadline: Sendable {}
