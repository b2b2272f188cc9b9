import Synchronization

/// Microseconds since the run started, on the monotonic clock: every latency in the report is
/// a difference of two of these, taken in this one process.
struct RunClock: Sendable {
    let origin = ContinuousClock.now

    func now() -> UInt64 { microseconds(at: .now) }

    func microseconds(at instant: ContinuousClock.Instant) -> UInt64 {
        let elapsed = instant - origin
        let (seconds, attoseconds) = elapsed.components
        return UInt64(max(0, seconds)) * 1_000_000 + UInt64(max(0, attoseconds / 1_000_000_000_000))
    }

    func instant(atMicroseconds value: UInt64) -> ContinuousClock.Instant {
        origin + .microseconds(Int64(value))
    }
}

/// One order the run created: what it was sent with and when it was meant to go.
struct OrderEntry: Sendable {
    var index: Int
    var token: String
    /// When the load schedule meant the measured operation to start (µs on the run clock): the
    /// HTTP POST in the full flow, the first PSP result in the pipeline mode. Latency is taken
    /// from here, not from when it actually went out, so a stalled node cannot hide its stall
    /// by holding back the load generator (coordinated omission).
    var intendedAt: UInt64
    var paymentOrderId: String
    /// When its terminal payment-events record was first seen (µs on the run clock), or nil.
    var terminalSeenAt: UInt64?
}

/// Everything the drivers and observers learn during a run, shared between their tasks.
final class RunLedger: Sendable {
    struct State {
        var orders: [OrderEntry] = []
        var indexByOrderId: [String: Int] = [:]
        /// Terminal events of orders not (yet) accepted: their response may still be on its way,
        /// or they belong to another run on a shared cluster. Kept apart so that an accepted
        /// order's terminal time lives in its entry (no second id-keyed table per order).
        var unmatchedTerminalSeenAt: [String: UInt64] = [:]
        /// Accepted orders whose terminal event was seen (all terminal events: `terminal`).
        var terminalOfAccepted = 0
        /// Terminal payment-events records seen more than once for an order, by order id.
        var repeatedTerminalEvents: [String: Int] = [:]
    }

    let clock: RunClock
    private let state = Mutex(State())
    /// Operations the drivers started (POSTs or results), attempts that failed and were
    /// retried, and the ones that failed for good.
    let sent = Atomic<Int>(0)
    let retries = Atomic<Int>(0)
    let failures = Atomic<Int>(0)
    let resultsProduced = Atomic<Int>(0)
    let tailErrors = Atomic<Int>(0)
    /// Terminal events seen, first sightings only, without the lock: the order driver reads it
    /// before every request when the backlog is bounded.
    let terminal = Atomic<Int>(0)

    init(clock: RunClock) { self.clock = clock }

    func accepted(_ entry: OrderEntry) {
        state.withLock { state in
            var entry = entry
            if let seen = state.unmatchedTerminalSeenAt.removeValue(forKey: entry.paymentOrderId) {
                entry.terminalSeenAt = seen
                state.terminalOfAccepted += 1
            }
            state.indexByOrderId[entry.paymentOrderId] = state.orders.count
            state.orders.append(entry)
        }
    }

    /// Moves the intended start of an order's measured operation (the pipeline mode measures
    /// from its first PSP result, sent after every order exists).
    func setIntendedAt(_ paymentOrderId: String, _ value: UInt64) {
        state.withLock { state in
            if let index = state.indexByOrderId[paymentOrderId] { state.orders[index].intendedAt = value }
        }
    }

    /// The same for many orders under one lock (a bulk driver's batch).
    func setIntendedAt(_ paymentOrderIds: [String], _ value: UInt64) {
        state.withLock { state in
            for id in paymentOrderIds {
                if let index = state.indexByOrderId[id] { state.orders[index].intendedAt = value }
            }
        }
    }

    /// Terminal events of one fetch, under one lock: at 100k results/s the tail's per-record
    /// locking and the table's growth were a visible share of the load generator's CPU.
    func terminalSeen(_ paymentOrderIds: [String], at time: UInt64) {
        let firstSightings = state.withLock { state in
            var firstSightings = 0
            for id in paymentOrderIds {
                if let index = state.indexByOrderId[id] {
                    if state.orders[index].terminalSeenAt == nil {
                        state.orders[index].terminalSeenAt = time
                        state.terminalOfAccepted += 1
                        firstSightings += 1
                    } else {
                        state.repeatedTerminalEvents[id, default: 0] += 1
                    }
                } else if state.unmatchedTerminalSeenAt[id] == nil {
                    state.unmatchedTerminalSeenAt[id] = time
                    firstSightings += 1
                } else {
                    state.repeatedTerminalEvents[id, default: 0] += 1
                }
            }
            return firstSightings
        }
        terminal.add(firstSightings, ordering: .relaxed)
    }

    var acceptedCount: Int { state.withLock { $0.orders.count } }

    /// Terminal events seen (the tail starts at the end of payment-events, so on a fresh or
    /// dedicated cluster these are this run's orders; the report joins them exactly).
    var completedCount: Int { terminal.load(ordering: .relaxed) }

    /// Whether every accepted order's terminal event was seen (no copy of the ledger).
    var everyAcceptedOrderTerminal: Bool { state.withLock { $0.terminalOfAccepted == $0.orders.count } }

    func snapshot() -> State { state.withLock { $0 } }
}
