import NIOCore

/// On a plaintext listener, tells HTTP/2 with prior knowledge (h2c, RFC 9113 section 3.3) from
/// HTTP/1.1 by the connection's first bytes: the HTTP/2 client preface, or anything else. It
/// holds the bytes until it knows, configures the pipeline behind itself with the matching
/// initializer, then hands the held bytes on and leaves.
final class HTTP2PrefaceDetector<Output: Sendable>: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias Initializer = (any Channel) -> EventLoopFuture<Output>

    /// What the first bytes say.
    enum Verdict: Equatable {
        case http1
        case http2
        /// A prefix of the preface so far: wait for more.
        case undecided
    }

    static var preface: String { "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" }

    /// The verdict on a connection's first bytes (pure; at most the preface's 24 are looked at).
    static func classify(_ bytes: ByteBufferView) -> Verdict {
        let preface = Self.preface.utf8
        for (byte, expected) in zip(bytes, preface) where byte != expected { return .http1 }
        return bytes.count >= preface.count ? .http2 : .undecided
    }

    private let http1: Initializer
    private let http2: Initializer
    private let promise: EventLoopPromise<Output>
    /// The bytes read before the verdict (and while the pipeline is being configured).
    private var held: ByteBuffer?
    private var decided = false

    /// The configured pipeline's output, once the verdict is in and the pipeline built.
    var result: EventLoopFuture<Output> { promise.futureResult }

    init(eventLoop: any EventLoop, http1: @escaping Initializer, http2: @escaping Initializer) {
        self.http1 = http1
        self.http2 = http2
        promise = eventLoop.makePromise()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if held == nil { held = bytes } else { held?.writeBuffer(&bytes) }
        guard !decided, let held else { return }
        let verdict = Self.classify(held.readableBytesView)
        guard verdict != .undecided else { return }
        decided = true
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let promise = self.promise
        (verdict == .http2 ? http2 : http1)(context.channel).whenComplete { result in
            let context = bound.value
            switch result {
            case .success(let output):
                promise.succeed(output)
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            case .failure(let error):
                promise.fail(error)
                context.close(promise: nil)
            }
        }
    }

    /// Hands the held bytes to the handlers behind, which now speak the connection's HTTP.
    func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        if let held, held.readableBytes > 0 {
            self.held = nil
            context.fireChannelRead(wrapInboundOut(held))
            context.fireChannelReadComplete()
        }
        context.leavePipeline(removalToken: removalToken)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.eof)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Without a verdict the connection never served anything (closed, or its setup failed).
        promise.fail(ChannelError.inappropriateOperationForState)
    }
}

@available(*, unavailable)
extension HTTP2PrefaceDetector: Sendable {}
