import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Creates payment orders as fast as possible with no Swift task per request: each connection's
/// handler keeps `depth` requests in flight on its event loop and sends the next one when a
/// response arrives, so the requests triggered by one read leave in one `write(2)`. The same
/// promises as `OrderDriver`: an Idempotency-Key per order, a request that fails for the
/// connection (the service was SIGKILLed) or with a 5xx is sent again with the same key, a 4xx
/// is a failure of the tool, and an order is given up after `orderDeadline`.
///
/// Why: with a task and a promise per request the generator used ~30 µs of CPU per order, a
/// quarter of the 2 cores it shares with the nodes it measures. Fixed-rate runs keep
/// `OrderDriver` (their latency counts from each order's intended start).
struct PipelinedOrderDriver: Sendable {
    let host: String
    let port: Int
    let ledger: RunLedger
    let mix: TokenMix
    let keys: IdempotencyKeys
    let connections: Int
    /// Requests in flight per connection.
    let depth: Int
    var orderDeadline: Duration = .seconds(120)
    var group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    /// HTTPS when set.
    var tls: NIOSSLContext?
    /// At most this many orders sent and not yet seen terminal (nil: no bound): a closed loop
    /// over the whole flow rather than over the HTTP requests alone.
    var maximumOutstanding: Int?

    func run(schedule: LoadSchedule) async {
        let queue = OrderQueue(schedule: schedule, clock: ledger.clock, deadline: orderDeadline, ledger: ledger,
                               maximumOutstanding: maximumOutstanding)
        await withTaskGroup(of: Void.self) { tasks in
            for _ in 0..<max(1, connections) {
                tasks.addTask { await runConnection(queue) }
            }
        }
    }

    /// One connection at a time in this slot until every order is settled; a lost connection
    /// hands its requests back to the queue and is replaced.
    private func runConnection(_ queue: OrderQueue) async {
        var failedConnects = 0
        while !queue.isDone {
            do {
                let channel = try await ClientBootstrap(group: group)
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .connectTimeout(.seconds(5))
                    .channelInitializer { [self] channel in
                        channel.eventLoop.makeCompletedFuture {
                            if let tls { try channel.pipeline.syncOperations.addHandler(try tlsClientHandler(tls, host: host)) }
                            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPResponseParser()))
                            try channel.pipeline.syncOperations.addHandler(
                                OrderPipelineHandler(queue: queue, ledger: ledger, mix: mix, keys: keys, host: host, depth: depth))
                        }
                    }
                    .connect(host: host, port: port).get()
                failedConnects = 0
                try await channel.closeFuture.get()
            } catch {
                failedConnects += 1
            }
            if queue.isDone { return }
            // The service is restarting: try again soon, a little later after each failure.
            try? await Task.sleep(for: .milliseconds(min(500, 20 * max(1, failedConnects))))
        }
    }
}

/// One order on its way: sent again with the same key until it is answered.
struct PendingOrder: Sendable {
    var index: Int
    var intendedAt: UInt64
    var attempt = 0
    var giveUpAt: ContinuousClock.Instant
    var notBefore: ContinuousClock.Instant?
}

/// Hands orders to the connections: retries when they are due, then new indexes while the run
/// lasts. Done when no new order may start and none is waiting or in flight.
final class OrderQueue: Sendable {
    private struct State {
        var nextIndex = 0
        var noMoreNew = false
        var retries: [PendingOrder] = []
        var inFlight = 0
    }

    private let state = Mutex(State())
    private let schedule: LoadSchedule
    private let clock: RunClock
    private let deadline: Duration
    private let ledger: RunLedger
    private let maximumOutstanding: Int?

    init(schedule: LoadSchedule, clock: RunClock, deadline: Duration, ledger: RunLedger, maximumOutstanding: Int? = nil) {
        self.schedule = schedule
        self.clock = clock
        self.deadline = deadline
        self.ledger = ledger
        self.maximumOutstanding = maximumOutstanding
    }

    var isDone: Bool {
        state.withLock { $0.retries.isEmpty && $0.inFlight == 0 && ($0.noMoreNew || !schedule.includes($0.nextIndex, now: clock.now())) }
    }

    /// The next order to send now, or nil when none is due.
    func take() -> PendingOrder? {
        let now = ContinuousClock.now
        return state.withLock { state -> PendingOrder? in
            if let due = state.retries.firstIndex(where: { ($0.notBefore ?? now) <= now }) {
                state.inFlight += 1
                return state.retries.remove(at: due)
            }
            guard !state.noMoreNew else { return nil }
            if let maximumOutstanding,
               ledger.sent.load(ordering: .relaxed) - ledger.terminal.load(ordering: .relaxed) >= maximumOutstanding {
                return nil  // the connection looks again after `idleRecheck`
            }
            let runNow = clock.now()
            guard schedule.includes(state.nextIndex, now: runNow) else {
                state.noMoreNew = true
                return nil
            }
            defer { state.nextIndex += 1 }
            state.inFlight += 1
            ledger.sent.add(1, ordering: .relaxed)
            return PendingOrder(index: state.nextIndex, intendedAt: schedule.intendedStart(of: state.nextIndex, now: runNow),
                                giveUpAt: now + deadline)
        }
    }

    /// The order was answered (created, or refused for good).
    func settled() {
        state.withLock { $0.inFlight -= 1 }
    }

    /// The order's request failed (a 5xx, or its connection): sent again with the same key
    /// after a back-off, unless it has run out of time (then it counts as failed).
    func retry(_ order: PendingOrder) {
        var order = order
        order.attempt += 1
        let now = ContinuousClock.now
        guard now < order.giveUpAt else {
            ledger.failures.add(1, ordering: .relaxed)
            settled()
            return
        }
        ledger.retries.add(1, ordering: .relaxed)
        order.notBefore = now + .milliseconds(min(500, 20 * order.attempt))
        state.withLock {
            $0.inFlight -= 1
            $0.retries.append(order)
        }
    }
}

/// Drives one pipelined HTTP/1.1 connection on its event loop: fills it to `depth` requests,
/// completes each response in order, and refills; hands its in-flight orders back to the
/// queue when the connection ends. Requests are written as bytes and responses read by
/// `HTTPResponseParser`: NIO's HTTP codec was a third of the generator's CPU.
final class OrderPipelineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ParsedHTTPResponse
    typealias OutboundOut = ByteBuffer

    /// A response later than this closes the connection (its orders are retried).
    static let responseTimeout = TimeAmount.seconds(10)
    /// How soon to look again when the queue had nothing due but the run is not over.
    static let idleRecheck = TimeAmount.milliseconds(10)

    private let queue: OrderQueue
    private let ledger: RunLedger
    private let mix: TokenMix
    private let keys: IdempotencyKeys
    private let host: String
    private let depth: Int
    private let authorization: String?
    private var inFlight = CircularBuffer<(order: PendingOrder, sentAt: NIODeadline)>()
    private var recheck: Scheduled<Void>?
    private var deadlineCheck: RepeatedTask?
    private var closing = false

    init(queue: OrderQueue, ledger: RunLedger, mix: TokenMix, keys: IdempotencyKeys, host: String, depth: Int) {
        self.queue = queue
        self.ledger = ledger
        self.mix = mix
        self.keys = keys
        self.host = host
        self.depth = max(1, depth)
        self.authorization = APIKeyHeader.value
    }

    func channelActive(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadlineCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(250), delay: .milliseconds(250)) { _ in
            let (handler, context) = loopBound.value
            guard let oldest = handler.inFlight.first, oldest.sentAt + Self.responseTimeout < .now() else { return }
            context.close(promise: nil)
        }
        fill(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let response = unwrapInboundIn(data)
        guard let sent = inFlight.popFirst() else {
            context.close(promise: nil)
            return
        }
        complete(sent.order, response: response)
    }

    /// Refill after each read: every request it freed leaves in one flush.
    func channelReadComplete(context: ChannelHandlerContext) {
        fill(context: context)
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        recheck?.cancel()
        deadlineCheck?.cancel()
        while let sent = inFlight.popFirst() { queue.retry(sent.order) }
        context.fireChannelInactive()
    }

    private func complete(_ order: PendingOrder, response: ParsedHTTPResponse) {
        let status = response.status
        if status == 201, let id = OrderDriver.paymentOrderId(inBody: response.body) {
            ledger.accepted(OrderEntry(index: order.index, token: mix.token(for: order.index), intendedAt: order.intendedAt, paymentOrderId: id))
            queue.settled()
        } else if status < 500 {
            // A 4xx will not change on a retry: the tool sent something wrong.
            ledger.failures.add(1, ordering: .relaxed)
            FileHandle.standardError.write(Data("order \(keys.key(for: order.index)): HTTP \(status) \(String(buffer: response.body))\n".utf8))
            queue.settled()
        } else {
            queue.retry(order)
        }
    }

    private func fill(context: ChannelHandlerContext) {
        guard !closing else { return }
        var wrote = false
        while inFlight.count < depth, let order = queue.take() {
            send(order, context: context)
            wrote = true
        }
        if wrote { context.flush() }
        if inFlight.count < depth, recheck == nil {
            if inFlight.isEmpty, queue.isDone {
                closing = true
                context.close(promise: nil)
                return
            }
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            recheck = context.eventLoop.scheduleTask(in: Self.idleRecheck) {
                let (handler, context) = loopBound.value
                handler.recheck = nil
                handler.fill(context: context)
            }
        }
    }

    private func send(_ order: PendingOrder, context: ChannelHandlerContext) {
        inFlight.append((order, .now()))
        var request = context.channel.allocator.buffer(capacity: 320)
        Self.writeRequest(index: order.index, token: mix.token(for: order.index), key: keys.key(for: order.index), host: host,
                          authorization: authorization, into: &request)
        context.write(wrapOutboundOut(request), promise: nil)
    }

    /// The order's `POST /v1/payment-orders` as HTTP/1.1 bytes.
    static func writeRequest(index: Int, token: String, key: String, host: String, authorization: String? = nil,
                             into buffer: inout ByteBuffer) {
        let body = OrderDriver.requestBody(index: index, token: token)
        buffer.writeStaticString("POST /v1/payment-orders HTTP/1.1\r\nHost: ")
        buffer.writeString(host)
        if let authorization {
            buffer.writeStaticString("\r\nAuthorization: ")
            buffer.writeString(authorization)
        }
        buffer.writeStaticString("\r\nContent-Type: application/json\r\nIdempotency-Key: ")
        buffer.writeString(key)
        buffer.writeStaticString("\r\nContent-Length: ")
        buffer.writeString(String(body.count))
        buffer.writeStaticString("\r\n\r\n")
        buffer.writeBytes(body)
    }
}
