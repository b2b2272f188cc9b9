import ArgumentParser
import Foundation
import NIOCore
import Synchronization

/// `MIN-MAX` seconds (or one number), e.g. `2-6`: faults come at uniformly random intervals in it.
struct SecondsRange: ExpressibleByArgument, Sendable, CustomStringConvertible {
    var lower: Double
    var upper: Double

    init?(argument: String) {
        let parts = argument.split(separator: "-", maxSplits: 1).map { Double($0) }
        guard let first = parts.first ?? nil, first > 0 else { return nil }
        let second = parts.count == 2 ? parts[1] : first
        guard let second, second >= first else { return nil }
        lower = first
        upper = second
    }

    func random<Generator: RandomNumberGenerator>(using generator: inout Generator) -> Duration {
        .milliseconds(Int64(Double.random(in: lower...upper, using: &generator) * 1000))
    }

    var description: String { lower == upper ? "\(lower)" : "\(lower)-\(upper)" }
}

/// A reproducible random source for fault timing (SplitMix64), seeded from `--seed`.
struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

/// The faults of a run, each on its own timer, until `stop()`: SIGKILL + restart of the chosen
/// nodes, connection resets and blackhole windows on the fault proxy, and a disk-full window
/// (the service restarted with a store limit just above what it holds, then without).
final class FaultInjector: Sendable {
    struct Plan: Sendable {
        var killVictims: [String] = []
        var killInterval = SecondsRange(argument: "3-8")!
        var resetInterval: SecondsRange?
        var blackholeInterval: SecondsRange?
        var blackholeMilliseconds = 1000
        var diskFullInterval: SecondsRange?
        var diskFullSeconds = 3.0
        var seed: UInt64 = 1
    }

    let plan: Plan
    let cluster: Cluster
    let proxy: FaultProxy?
    let clock: RunClock
    private let events = Mutex<[FaultEvent]>([])
    private let kills = Mutex<[String: Int]>([:])
    /// Kills and disk windows both restart the service: one at a time.
    private let serviceLock = AsyncLock()

    init(plan: Plan, cluster: Cluster, proxy: FaultProxy?, clock: RunClock) {
        self.plan = plan
        self.cluster = cluster
        self.proxy = proxy
        self.clock = clock
    }

    var log: [FaultEvent] { events.withLock { $0 } }
    var killCounts: [String: Int] { kills.withLock { $0 } }

    func note(_ what: String) {
        let at = Double(clock.now()) / 1_000_000
        events.withLock { $0.append(FaultEvent(atSeconds: at, what: what)) }
    }

    /// Runs every planned fault until the task is cancelled; nodes are left running.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            if !plan.killVictims.isEmpty { group.addTask { await self.killLoop() } }
            if let interval = plan.resetInterval, let proxy {
                group.addTask {
                    await self.every(interval, salt: 2) {
                        proxy.resetAll()
                        self.note("proxy: reset every connection")
                    }
                }
            }
            if let interval = plan.blackholeInterval, let proxy {
                let length = plan.blackholeMilliseconds
                group.addTask {
                    await self.every(interval, salt: 3) {
                        proxy.blackhole(for: .milliseconds(Int64(length)))
                        self.note("proxy: blackhole \(length) ms")
                    }
                }
            }
            if let interval = plan.diskFullInterval { group.addTask { await self.diskFullLoop(interval) } }
        }
    }

    private func every(_ interval: SecondsRange, salt: UInt64, _ action: @Sendable () async -> Void) async {
        var generator = SeededGenerator(seed: plan.seed &* 31 &+ salt)
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval.random(using: &generator)) } catch { return }
            await action()
        }
    }

    private func killLoop() async {
        var generator = SeededGenerator(seed: plan.seed)
        var turn = 0
        while !Task.isCancelled {
            do { try await Task.sleep(for: plan.killInterval.random(using: &generator)) } catch { return }
            let victim = plan.killVictims[turn % plan.killVictims.count]
            turn += 1
            let node = victim == "service" ? cluster.service : cluster.executor
            let downtime = Duration.milliseconds(Int64.random(in: 50...300, using: &generator))
            await serviceLock.withLock {
                note("SIGKILL \(victim)")
                kills.withLock { $0[victim, default: 0] += 1 }
                do {
                    // Not cancellable: a node must never be left dead by the end of the run.
                    try await Task { try await cluster.crashAndRestart(node, downtime: downtime) }.value
                    note("\(victim) ready again after \(String(format: "%.2f", node.readyTimes.last ?? 0)) s")
                } catch {
                    note("\(victim) failed to restart: \(error)")
                }
            }
        }
    }

    /// The disk fills up: the service restarts with `--max-map-size` a little above the store's
    /// current size, so appends soon fail with "store full" (the API answers 503, the consumer
    /// retries); after the window it restarts without the limit, as an operator freeing space.
    private func diskFullLoop(_ interval: SecondsRange) async {
        var generator = SeededGenerator(seed: plan.seed &* 31 &+ 5)
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval.random(using: &generator)) } catch { return }
            await serviceLock.withLock {
                let limit = Self.allocatedBytes(cluster.options.root + "/service/data.mdb")
                note("disk full: service restarted with --max-map-size \(limit)")
                do {
                    let refused = try await Task {
                        try await self.cluster.stopAndRestartService(arguments: ["--max-map-size", String(limit)])
                        try await Task.sleep(for: .milliseconds(Int64(self.plan.diskFullSeconds * 1000)))
                        let refused = await self.outOfSpaceCount()
                        try await self.cluster.stopAndRestartService(arguments: [])
                        return refused
                    }.value
                    note("disk freed: service restarted without a store limit (\(refused.map(String.init) ?? "?") commits refused for space)")
                } catch {
                    note("disk-full window failed: \(error)")
                }
            }
        }
    }

    /// Bytes the file occupies on disk: LMDB's data file is sparse beyond its last used page,
    /// so this, not its size, tells how much the store holds.
    static func allocatedBytes(_ path: String) -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        return Int(info.st_blocks) * 512
    }

    /// The service's `paynode_store_out_of_space_total` (commits refused for lack of space).
    private func outOfSpaceCount() async -> Int? {
        let client = HTTPClient(host: "127.0.0.1", port: cluster.httpPort, connections: 1, tls: cluster.options.tls)
        defer { client.shutdown() }
        guard let response = try? await client.get("/metrics"), response.status == 200 else { return nil }
        let text = String(decoding: response.bodyBytes, as: UTF8.self)
        return text.split(separator: "\n").first { $0.hasPrefix("paynode_store_out_of_space_total") }
            .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }.map { Int($0) } ?? 0
    }
}

extension Cluster {
    /// A graceful restart with different extra arguments (the disk-full window).
    func stopAndRestartService(arguments: [String]) async throws {
        service.stop()
        try await restart(service, serviceArguments: arguments)
    }
}

/// A FIFO async mutex: fault actions that restart the service never overlap.
final class AsyncLock: Sendable {
    private let state = Mutex<(locked: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func withLock<T: Sendable>(_ body: () async -> T) async -> T {
        await acquire()
        defer { release() }
        return await body()
    }

    private func acquire() async {
        await withCheckedContinuation { continuation in
            let acquired = state.withLock { state -> Bool in
                if state.locked {
                    state.waiters.append(continuation)
                    return false
                }
                state.locked = true
                return true
            }
            if acquired { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.locked = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
