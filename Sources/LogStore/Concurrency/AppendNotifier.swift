import Synchronization

/// Wakes long-polling readers when a partition's high watermark passes what they last saw.
/// Waiters register the high watermark of their snapshot; the writer publishes new high
/// watermarks after each durable commit. Comparing the two under one lock means an append
/// between a reader's snapshot and its registration is never missed.
final class AppendNotifier: Sendable {
    private struct Waiter {
        var expected: [TopicPartition: Int64]
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var interrupted = false
        var published: [TopicPartition: Int64] = [:]
        var waiters: [UInt64: Waiter] = [:]
        var nextWaiterID: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Called by the writer after a commit is durable.
    func publish(_ highWatermarks: [TopicPartition: Int64]) {
        guard !highWatermarks.isEmpty else { return }
        let woken: [CheckedContinuation<Void, Never>] = state.withLock { state in
            for (partition, watermark) in highWatermarks {
                state.published[partition] = watermark
            }
            var woken: [CheckedContinuation<Void, Never>] = []
            for (id, waiter) in state.waiters where Self.isSatisfied(waiter.expected, published: state.published) {
                woken.append(waiter.continuation)
                state.waiters[id] = nil
            }
            return woken
        }
        for continuation in woken { continuation.resume() }
    }

    var isInterrupted: Bool { state.withLock { $0.interrupted } }

    /// Wakes every waiter now and makes later waits return at once (node shutting down).
    func interruptAll() {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.interrupted = true
            defer { state.waiters.removeAll() }
            return state.waiters.values.map(\.continuation)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Forgets a partition (topic deleted): its high watermark starts over if it is recreated.
    func forget(_ partitions: [TopicPartition]) {
        state.withLock { state in
            for partition in partitions { state.published[partition] = nil }
        }
    }

    /// Returns once any partition's high watermark passes the expected one, or at `deadline`,
    /// or when the task is cancelled.
    func waitForAppend(after expected: [TopicPartition: Int64], until deadline: ContinuousClock.Instant) async {
        guard !expected.isEmpty, deadline > .now, !state.withLock({ $0.interrupted }) else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitUntilSatisfied(expected) }
            group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitUntilSatisfied(_ expected: [TopicPartition: Int64]) async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if Task.isCancelled || state.interrupted || Self.isSatisfied(expected, published: state.published) { return true }
                    state.waiters[id] = Waiter(expected: expected, continuation: continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume()
        }
    }

    private static func isSatisfied(_ expected: [TopicPartition: Int64], published: [TopicPartition: Int64]) -> Bool {
        expected.contains { partition, watermark in (published[partition] ?? watermark) > watermark }
    }
}
