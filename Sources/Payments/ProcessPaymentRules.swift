/// The hot part of a payment order as the consumer keeps it: status and, per PSP status, the
/// content hash of the result seen (0: none). Idempotency is folded into this small record, so
/// processing a result writes one fixed-size record instead of a separate idempotency table
/// (lmdb.md measured 1.2-1.4x for that).
public struct PaymentOrderState: Sendable, Hashable {
    public var status: PaymentStatus
    public var seenPending: UInt64 = 0
    public var seenSuccessful: UInt64 = 0
    public var seenFailed: UInt64 = 0
    /// Results recorded for this order (applied or not).
    public var resultCount: UInt32 = 0
    public var updatedAtMilliseconds: Int64
    /// Amount in minor units and ISO 4217 currency (three letters, as the API validated it).
    public var amountMinor: Int64
    public var currency: String

    public init(status: PaymentStatus = .pending, updatedAtMilliseconds: Int64, amountMinor: Int64, currency: String) {
        self.status = status
        self.updatedAtMilliseconds = updatedAtMilliseconds
        self.amountMinor = amountMinor
        self.currency = currency
    }

    func seen(_ status: PspStatus) -> UInt64 {
        switch status {
        case .pending: seenPending
        case .successful: seenSuccessful
        case .failed: seenFailed
        }
    }

    mutating func markSeen(_ status: PspStatus, hash: UInt64) {
        switch status {
        case .pending: seenPending = hash
        case .successful: seenSuccessful = hash
        case .failed: seenFailed = hash
        }
    }
}

/// What processing one PSP result did to its order.
public enum ResultOutcome: String, Sendable, Hashable, CaseIterable, Codable {
    /// A state transition: PENDING became SUCCESSFUL or FAILED.
    case applied
    /// A PENDING result for a PENDING order: recorded, no transition.
    case recorded
    /// The same result again (same status and content): nothing changes.
    case duplicate
    /// A PENDING result arriving after the order became terminal (delivered out of order).
    case stale
    /// A result contradicting what is recorded: not applied, kept for reconciliation.
    case conflict
}

public struct ProcessingDecision: Sendable, Hashable {
    public var outcome: ResultOutcome
    public var state: PaymentOrderState
    /// The terminal status to announce on `payment-events` (only for `.applied`).
    public var emitted: PaymentStatus?
    public var reason: String
}

/// `ProcessPaymentService.processPspResult`'s decision, as a pure function: the only place that
/// decides payment state transitions. The rules follow what the best payment systems converged
/// on (shared notes, payments.md): terminal states are sticky; a result's idempotency key is the
/// order plus the result's status, and its content (reference, error, PSP event id) tells a
/// duplicate (same content) from a conflict (different content).
public enum ProcessPaymentRules {
    public static func decide(_ state: PaymentOrderState, _ result: PspResult, nowMilliseconds: Int64) -> ProcessingDecision {
        let hash = result.contentHash
        var next = state
        let previous = state.seen(result.status)
        if previous != 0 {
            if previous == hash {
                return ProcessingDecision(outcome: .duplicate, state: state, emitted: nil,
                                          reason: "the same \(result.status.rawValue) result was processed before")
            }
            // PENDING says only "not settled yet": a PENDING of other content (a follow-up that
            // reconciliation flags, a PSP that stopped answering) contradicts nothing.
            if result.status == .pending {
                next.resultCount &+= 1
                next.updatedAtMilliseconds = nowMilliseconds
                return state.status == .pending
                    ? ProcessingDecision(outcome: .recorded, state: next, emitted: nil, reason: "the PSP still reports the payment as pending")
                    : ProcessingDecision(outcome: .stale, state: next, emitted: nil,
                                         reason: "a PENDING result arrived after the order became \(state.status.rawValue)")
            }
            next.resultCount &+= 1
            next.updatedAtMilliseconds = nowMilliseconds
            return ProcessingDecision(outcome: .conflict, state: next, emitted: nil,
                                      reason: "a different \(result.status.rawValue) result was recorded before")
        }
        next.markSeen(result.status, hash: hash)
        next.resultCount &+= 1
        next.updatedAtMilliseconds = nowMilliseconds
        switch (state.status, result.status) {
        case (.pending, .pending):
            return ProcessingDecision(outcome: .recorded, state: next, emitted: nil, reason: "the PSP reports the payment as pending")
        case (.pending, .successful):
            next.status = .successful
            return ProcessingDecision(outcome: .applied, state: next, emitted: .successful, reason: "PENDING -> SUCCESSFUL")
        case (.pending, .failed):
            next.status = .failed
            return ProcessingDecision(outcome: .applied, state: next, emitted: .failed, reason: "PENDING -> FAILED")
        case (_, .pending):
            return ProcessingDecision(outcome: .stale, state: next, emitted: nil,
                                      reason: "a PENDING result arrived after the order became \(state.status.rawValue)")
        case (.successful, .failed), (.failed, .successful):
            return ProcessingDecision(outcome: .conflict, state: next, emitted: nil,
                                      reason: "\(result.status.rawValue) contradicts the terminal status \(state.status.rawValue)")
        case (.successful, .successful), (.failed, .failed):
            // Unreachable: the terminal status's own result is always recorded as seen.
            return ProcessingDecision(outcome: .duplicate, state: state, emitted: nil, reason: "already \(state.status.rawValue)")
        }
    }
}
