import Logging
import Metrics
import NIOCore
import Protocol
import Synchronization
import Telemetry

/// Whether the broker is working on a request of this connection: the guard never calls a
/// connection idle while its request (a parked JoinGroup, a long-poll Fetch) is in progress,
/// unless its response is stuck behind a client that does not read.
final class ConnectionActivity: Sendable {
    private let busy = Atomic<Bool>(false)

    var isBusy: Bool { busy.load(ordering: .relaxed) }

    func setBusy(_ value: Bool) { busy.store(value, ordering: .relaxed) }
}

/// Counts connections the listener closed or refused on its own account, by reason.
func countClosedConnection(_ reason: String) {
    Counter(label: "paynode_kafka_connections_closed_total", dimensions: [("reason", reason)]).increment()
}

/// First handler of a Kafka connection: closes it when it has been idle for
/// `idleTimeout` (Kafka's connections.max.idle.ms), or when a request has started arriving but
/// not finished within `requestReadTimeout` (a slowloris client trickling bytes to hold a
/// connection and a growing buffer forever). Byte counting only; framing stays with
/// `KafkaFrameDecoder`.
final class KafkaConnectionGuard: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Timeouts: Sendable {
        var idle: TimeAmount
        var requestRead: TimeAmount

        /// How often the guard looks: a quarter of the shorter timeout, 10 ms to 1 s, so a
        /// connection closes at most a quarter late and idle ones cost almost nothing.
        var checkInterval: TimeAmount {
            let shorter = min(idle.nanoseconds, requestRead.nanoseconds) / 4
            return .nanoseconds(min(max(shorter, 10_000_000), 1_000_000_000))
        }
    }

    private let timeouts: Timeouts
    private let activity: ConnectionActivity
    private let warnings: RateLimitedLogger
    private let logger: Logger
    private var tracker = KafkaFrameTracker()
    private var lastActivity = NIODeadline.now()
    /// When the request now arriving started; nil between requests.
    private var frameStarted: NIODeadline?
    private var timer: RepeatedTask?

    init(timeouts: Timeouts, activity: ConnectionActivity, warnings: RateLimitedLogger, logger: Logger) {
        self.timeouts = timeouts
        self.activity = activity
        self.warnings = warnings
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        let interval = timeouts.checkInterval
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            bound.value.handler.check(context: bound.value.context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let now = NIODeadline.now()
        lastActivity = now
        let before = tracker.completedFrames
        tracker.observe(buffer)
        if !tracker.isInsideFrame {
            frameStarted = nil
        } else if frameStarted == nil || tracker.completedFrames != before {
            // A new request began in this read (possibly after finishing others).
            frameStarted = now
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        lastActivity = .now()
        context.write(data, promise: promise)
    }

    private func check(context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        let now = NIODeadline.now()
        if let started = frameStarted, now - started >= timeouts.requestRead {
            close(context, key: "request-read-timeout",
                  reason: "a request did not arrive completely within the request read timeout",
                  metadata: ["timeoutMs": "\(timeouts.requestRead.nanoseconds / 1_000_000)"])
        } else if frameStarted == nil, activity.isBusy, context.channel.isWritable {
            // Working on its request. A response stuck because the client stops reading
            // (not writable) does not count, so a slow reader is closed as idle.
            lastActivity = now
        } else if frameStarted == nil, now - lastActivity >= timeouts.idle {
            // Routine (clients reconnect), so info, as Kafka logs it at debug.
            logger.info("closing idle Kafka connection", metadata: ["idleMs": "\(timeouts.idle.nanoseconds / 1_000_000)"])
            countClosedConnection("idle")
            timer?.cancel()
            context.close(promise: nil)
        }
    }

    private func close(_ context: ChannelHandlerContext, key: String, reason: String, metadata: Logger.Metadata) {
        var metadata = metadata
        metadata["reason"] = "\(reason)"
        warnings.warning(key: key, "closing Kafka connection", metadata: metadata, logger: logger)
        countClosedConnection(key)
        timer?.cancel()
        context.close(promise: nil)
    }
}
