import NIOCore
import NIOPosix
import Synchronization

/// What the proxy does to the bytes it relays, changeable while it runs.
struct FaultProxySettings: Sendable {
    /// Added to every chunk in each direction.
    var latencyMilliseconds = 0
    /// A uniformly random extra delay up to this, per chunk (order is kept: a chunk never
    /// overtakes the one before it).
    var jitterMilliseconds = 0
}

/// A TCP proxy between the executor and the service's Kafka listener that injects network
/// faults: latency and jitter on every chunk, connection resets (RST, as a crashed peer or a
/// middlebox timeout looks), and blackhole windows in which nothing is relayed, so requests
/// time out rather than fail fast. paynode's Kafka client talks only to its bootstrap address
/// (a single broker), so pointing `--bootstrap-servers` at the proxy keeps every request on it.
final class FaultProxy: Sendable {
    private let group: any EventLoopGroup
    private let upstreamHost: String
    private let upstreamPort: Int
    let settings: Mutex<FaultProxySettings>
    /// Relaying resumes at this instant (NIODeadline uptime nanoseconds); 0 when no blackhole.
    private let blackholeUntil = Atomic<Int64>(0)
    private let open = Mutex<[ObjectIdentifier: any Channel]>([:])
    private let server = Mutex<(any Channel)?>(nil)
    let resets = Atomic<Int>(0)
    let blackholes = Atomic<Int>(0)
    let accepted = Atomic<Int>(0)

    init(upstreamHost: String, upstreamPort: Int, settings: FaultProxySettings,
         group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.group = group
        self.upstreamHost = upstreamHost
        self.upstreamPort = upstreamPort
        self.settings = Mutex(settings)
    }

    /// Listens on `host:port` (0: a free port) and returns the bound port.
    func start(host: String = "127.0.0.1", port: Int = 0) async throws -> Int {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { inbound in self.connectUpstream(for: inbound) }
            .bind(host: host, port: port).get()
        server.withLock { $0 = channel }
        return channel.localAddress?.port ?? port
    }

    func stop() {
        server.withLock { $0?.close(promise: nil); $0 = nil }
        resetAll(count: false)
    }

    /// Aborts every relayed connection with a TCP RST on both sides.
    func resetAll(count: Bool = true) {
        let channels = open.withLock { Array($0.values) }
        if count, !channels.isEmpty { resets.add(1, ordering: .relaxed) }
        for channel in channels { Self.abort(channel) }
    }

    /// Relays nothing for `duration`; what arrives meanwhile is delivered afterwards.
    func blackhole(for duration: TimeAmount) {
        blackholes.add(1, ordering: .relaxed)
        blackholeUntil.store((NIODeadline.now() + duration).uptimeNanoseconds.clampedToInt64, ordering: .relaxed)
    }

    /// When a chunk read now may be delivered.
    fileprivate func deliveryDeadline() -> NIODeadline {
        let current = settings.withLock { $0 }
        var delay = Int64(current.latencyMilliseconds) * 1_000_000
        if current.jitterMilliseconds > 0 { delay += Int64.random(in: 0...Int64(current.jitterMilliseconds) * 1_000_000) }
        let due = NIODeadline.now() + .nanoseconds(delay)
        let hole = blackholeUntil.load(ordering: .relaxed)
        return hole > due.uptimeNanoseconds.clampedToInt64 ? .uptimeNanoseconds(UInt64(hole)) : due
    }

    private func connectUpstream(for inbound: any Channel) -> EventLoopFuture<Void> {
        accepted.add(1, ordering: .relaxed)
        // Both halves on one event loop: the relay handlers then touch each other's channel
        // from the loop that owns it.
        return ClientBootstrap(group: inbound.eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { outbound in
                outbound.eventLoop.makeCompletedFuture {
                    try outbound.pipeline.syncOperations.addHandler(RelayHandler(partner: inbound, proxy: self))
                }
            }
            .connect(host: upstreamHost, port: upstreamPort)
            .flatMap { outbound in
                inbound.eventLoop.makeCompletedFuture {
                    try inbound.pipeline.syncOperations.addHandler(RelayHandler(partner: outbound, proxy: self))
                    self.track(inbound)
                    self.track(outbound)
                }
            }
    }

    private func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        open.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in _ = self.open.withLock { $0.removeValue(forKey: id) } }
    }

    fileprivate static func abort(_ channel: any Channel) {
        // SO_LINGER 0: close() sends RST instead of FIN.
        guard let socket = channel as? any SocketOptionProvider else {
            channel.close(promise: nil)
            return
        }
        socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// Forwards what one side reads to the other after the proxy's delay, in order.
private final class RelayHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let partner: any Channel
    private let proxy: FaultProxy
    private var queue = CircularBuffer<(due: NIODeadline, bytes: ByteBuffer)>()
    private var lastDue = NIODeadline.uptimeNanoseconds(0)

    init(partner: any Channel, proxy: FaultProxy) {
        self.partner = partner
        self.proxy = proxy
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        // Never before the chunk ahead of it: jitter must not reorder a byte stream.
        let due = max(proxy.deliveryDeadline(), lastDue)
        lastDue = due
        if queue.isEmpty, due <= .now() {
            partner.writeAndFlush(bytes, promise: nil)
            return
        }
        queue.append((due, bytes))
        let loop = context.eventLoop.assumeIsolated()
        loop.scheduleTask(deadline: due) { self.deliverDue() }
    }

    private func deliverDue() {
        let now = NIODeadline.now()
        var wrote = false
        while let head = queue.first, head.due <= now {
            queue.removeFirst()
            partner.write(head.bytes, promise: nil)
            wrote = true
        }
        if wrote { partner.flush() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        FaultProxy.abort(context.channel)
        FaultProxy.abort(partner)
    }
}

private extension UInt64 {
    var clampedToInt64: Int64 { self > UInt64(Int64.max) ? .max : Int64(self) }
}
