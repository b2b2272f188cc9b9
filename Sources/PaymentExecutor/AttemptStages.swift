import Payments

/// One order's attempt as a state machine, with no I/O: the executor's loop (`PaymentExecutor.pay`)
/// asks for an action, performs it (a PSP call, a wait, a journal write) and reports what
/// happened, which gives the next action. The stages it moves the attempt through
/// (`calling`, `queued`, `settled`) are the ones the journal stores.
///
/// - `calling`: up to `maximumCalls` PSP calls, each transient failure followed by a jittered
///   back-off that doubles up to the configured bound (at least what the PSP asked with
///   Retry-After); a charge first, a retrieve once a result exists. The answer is the next
///   result. When every call failed: a `psp_unreachable` failure if the PSP never named the
///   charge (it cannot have moved money), else a PENDING result (`psp_unconfirmed`) followed up
///   like any PENDING one: a charge the PSP knows is never guessed failed.
/// - each result is queued (journaled with its outbox entry): a PENDING result leaves the attempt
///   `queued`, a final one settles it in that same write.
/// - `queued` with a PENDING result is followed up on `FollowUpSchedule`: at the PSP's pace
///   (its retry-after, 200 ms unless it said) while young, then reconciled on a growing
///   schedule (first after 60 s, doubling to an hour), and given up after 72 h pending: a last
///   PENDING result `needs_attention` flags it for a person and the attempt settles. Nothing is
///   ever guessed SUCCESSFUL; a webhook can still settle the order at the service.
///   `queued` with a final result (journaled so by an earlier release) is settled and saved.
struct AttemptStages: Sendable {
    enum PSPOperation: String, Sendable {
        case charge, retrieve
    }

    enum Action: Equatable, Sendable {
        /// Call the PSP; `call` counts the calls of this round from 1.
        case callPSP(PSPOperation, call: Int)
        /// Wait a random time from `atLeastMilliseconds` to `upToMilliseconds` before `backedOff`,
        /// after a transient failure.
        case backOff(upToMilliseconds: Int, atLeastMilliseconds: Int)
        /// Journal the attempt with its results from `fromResult` on in the outbox, then `queued`.
        case queue(fromResult: Int)
        /// Wait this long for a PENDING payment before `waited`.
        case waitForPending(milliseconds: Int)
        /// Journal the settled attempt, then `saved`.
        case save
        /// Nothing is left to do for this order.
        case finished
    }

    /// The wait after a PENDING result whose PSP gave no `retryAfter`.
    static let defaultPendingWaitMilliseconds = 200
    /// The error code of the last PENDING result of a payment reconciliation gave up on.
    static let needsAttentionCode = "needs_attention"

    /// The attempt as the journal is to store it.
    private(set) var attempt: Attempt
    let maximumCalls: Int
    let backoffMilliseconds: ClosedRange<Int>
    let followUps: FollowUpSchedule
    /// The round of PSP calls in progress: the current call's number and the next back-off.
    private var round: (call: Int, backoff: Int)?

    typealias Attempt = PaymentExecutor.Attempt
    typealias StoredResult = PaymentExecutor.StoredResult

    init(_ attempt: Attempt, maximumCalls: Int, backoffMilliseconds: ClosedRange<Int>, followUps: FollowUpSchedule = FollowUpSchedule()) {
        self.attempt = attempt
        self.maximumCalls = maximumCalls
        self.backoffMilliseconds = backoffMilliseconds
        self.followUps = followUps
    }

    /// The first action for the attempt as it was journaled (new, or resumed after a restart).
    mutating func start(nowMilliseconds: Int64) -> Action {
        switch attempt.stage {
        case .calling: return beginCalls()
        case .queued: return afterQueued(nowMilliseconds: nowMilliseconds)
        case .settled: return .finished
        }
    }

    /// The PSP answered the current call.
    mutating func answered(_ result: StoredResult) -> Action {
        attempt.calls += 1
        return queue(result)
    }

    /// The current call failed transiently (`reason`): back off (at least `retryAfterMilliseconds`
    /// when the PSP asked for it), then call again or give up.
    mutating func failed(reason: String, retryAfterMilliseconds: Int64? = nil) -> Action {
        precondition(round != nil, "a PSP call failed outside a round of calls")
        attempt.calls += 1
        attempt.lastError = reason
        let backoff = round?.backoff ?? backoffMilliseconds.lowerBound
        // Bounded: a PSP cannot park an order for longer than a minute per call.
        let atLeast = Int(min(max(retryAfterMilliseconds ?? 0, 0), 60_000))
        return .backOff(upToMilliseconds: max(backoff, atLeast), atLeastMilliseconds: atLeast)
    }

    /// The PSP named the charge (`PspReferenceJournal`) during the current call; the journal
    /// already holds it.
    mutating func referenceRecorded(_ reference: String) {
        attempt.pspReference = reference
    }

    /// The back-off after a failed call is over. Out of calls, the attempt fails visibly
    /// (`psp_unavailable` at `nowMilliseconds`) rather than stalling.
    mutating func backedOff(nowMilliseconds: Int64) -> Action {
        guard var current = round else { preconditionFailure("a back-off outside a round of calls") }
        current.backoff = min(current.backoff * 2, backoffMilliseconds.upperBound)
        guard current.call < maximumCalls else {
            let message = "\(attempt.order.psp) did not answer after \(maximumCalls) calls: \(attempt.lastError ?? "")"
            if let reference = knownReference {
                return queue(StoredResult(status: .pending, pspReference: reference, errorCode: "psp_unconfirmed", errorMessage: message,
                                          eventTime: nowMilliseconds, retryAfterMilliseconds: followUps.firstMilliseconds))
            }
            return queue(StoredResult(status: .failed, errorCode: "psp_unreachable", errorMessage: message, eventTime: nowMilliseconds))
        }
        current.call += 1
        round = current
        return .callPSP(operation, call: current.call)
    }

    /// The order names a PSP this executor does not have (or an id that is not an order id):
    /// it fails at once, with no call.
    mutating func unknownPSP(nowMilliseconds: Int64) -> Action {
        queue(StoredResult(status: .failed, errorCode: "invalid_psp", errorMessage: "no PSP \(attempt.order.psp)", eventTime: nowMilliseconds))
    }

    /// The results of the `queue` action are journaled.
    mutating func queued(nowMilliseconds: Int64) -> Action {
        afterQueued(nowMilliseconds: nowMilliseconds)
    }

    /// The wait for a PENDING payment is over: retrieve its state.
    mutating func waited() -> Action {
        attempt.stage = .calling
        return beginCalls()
    }

    /// The settled attempt of the `save` action is journaled.
    func saved() -> Action {
        .finished
    }

    private var operation: PSPOperation {
        attempt.results.isEmpty ? .charge : .retrieve
    }

    /// The PSP's name for the charge: journaled before it moved money, or from a result.
    var knownReference: String? {
        attempt.pspReference ?? attempt.results.last(where: { $0.pspReference != nil })?.pspReference
    }

    private mutating func beginCalls() -> Action {
        round = (call: 1, backoff: backoffMilliseconds.lowerBound)
        return .callPSP(operation, call: 1)
    }

    /// The result joins the attempt, in the stage it is journaled in with its outbox entry.
    private mutating func queue(_ result: StoredResult) -> Action {
        round = nil
        if result.status == .pending, attempt.pendingSince == nil { attempt.pendingSince = result.eventTime }
        attempt.results.append(result)
        // A final result settles the attempt in the same transaction: what is left for it is the
        // outbox's delivery, which does not need the attempt (one journal write per order fewer).
        attempt.stage = result.status == .pending ? .queued : .settled
        return .queue(fromResult: attempt.results.count - 1)
    }

    private mutating func afterQueued(nowMilliseconds: Int64) -> Action {
        guard attempt.stage == .queued else { return .finished }
        guard let last = attempt.results.last, last.status == .pending else {
            attempt.stage = .settled
            return .save
        }
        let since = attempt.pendingSince ?? last.eventTime
        let age = nowMilliseconds &- since
        if age >= followUps.giveUpMilliseconds {
            // Reconciliation gives up visibly: the last result flags the order, the attempt ends.
            attempt.results.append(StoredResult(
                status: .pending, pspReference: knownReference, errorCode: Self.needsAttentionCode,
                errorMessage: "\(attempt.order.psp) has not settled this payment after \(age / 3_600_000) h pending and \(attempt.followUps) follow-ups; check it with the PSP",
                eventTime: nowMilliseconds))
            attempt.stage = .settled
            return .queue(fromResult: attempt.results.count - 1)
        }
        let hint = Int64(last.retryAfterMilliseconds ?? Int64(Self.defaultPendingWaitMilliseconds))
        if age < followUps.promptMilliseconds {
            return .waitForPending(milliseconds: Int(min(hint, followUps.maximumMilliseconds)))
        }
        let wait = followUps.wait(afterFollowUps: attempt.followUps)
        attempt.followUps += 1
        return .waitForPending(milliseconds: Int(max(wait, min(hint, followUps.maximumMilliseconds))))
    }
}

/// How a PENDING payment is followed up: at the PSP's pace while it is young, then on a growing
/// schedule (Kill Bill's janitor and Hyperswitch's PSync work the same way, psp-edge.md section
/// 3), and given up, flagged for a person, when it has been pending too long.
struct FollowUpSchedule: Sendable, Hashable {
    /// While pending for less than this, asked again after the PSP's own retry-after.
    var promptMilliseconds: Int64 = 60_000
    /// The first reconciliation wait; each one after doubles, up to `maximumMilliseconds`.
    var firstMilliseconds: Int64 = 60_000
    var maximumMilliseconds: Int64 = 3_600_000
    /// Pending this long (since the first PENDING result): reconciliation gives up.
    var giveUpMilliseconds: Int64 = 72 * 3_600_000

    /// The wait before reconciliation follow-up number `done` + 1.
    func wait(afterFollowUps done: Int) -> Int64 {
        var wait = firstMilliseconds
        for _ in 0..<min(done, 62) where wait < maximumMilliseconds { wait = wait &* 2 }
        return min(max(wait, 1), maximumMilliseconds)
    }
}
