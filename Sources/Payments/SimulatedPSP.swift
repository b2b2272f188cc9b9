import Synchronization

/// A PSP call's answer, as an adapter reports it.
public struct PspCallResult: Sendable, Hashable {
    public var status: PspStatus
    public var pspReference: String?
    public var errorCode: String?
    public var errorMessage: String?
    /// For PENDING: ask again (`retrieve`) after this many milliseconds.
    public var retryAfterMilliseconds: Int64?

    public init(status: PspStatus, pspReference: String? = nil, errorCode: String? = nil, errorMessage: String? = nil,
                retryAfterMilliseconds: Int64? = nil) {
        self.status = status
        self.pspReference = pspReference
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.retryAfterMilliseconds = retryAfterMilliseconds
    }
}

/// A PSP that could not answer this time (network error, timeout, 5xx, 429): retry with back-off.
public struct PspTransientError: Error, Sendable, Hashable, CustomStringConvertible {
    public var psp: String
    public var message: String
    /// The least the PSP asked to wait before the next call (`Retry-After`), if it said.
    public var retryAfterMilliseconds: Int64?

    public init(psp: String, message: String, retryAfterMilliseconds: Int64? = nil) {
        self.psp = psp
        self.message = message
        self.retryAfterMilliseconds = retryAfterMilliseconds
    }

    public var description: String { "\(psp): \(message)" }
}

/// Every PSP adapter (Stripe, Adyen, the simulators) behind one interface. The payment order id
/// is the PSP-side idempotency key, so repeating a call after a crash is safe: the PSP answers
/// with the first outcome.
public protocol PaymentServiceProvider: Sendable {
    var name: String { get }
    /// Charges the order. An adapter whose PSP names the charge before it moves money (Stripe
    /// creates a PaymentIntent, then confirms it) records that name in `journal` first, and a
    /// repeated call finds it there: a retry after the PSP forgot its idempotency key (Stripe
    /// prunes them after 24 h) continues that charge instead of making a second.
    func charge(_ charge: PspCharge, journal: PspReferenceJournal) async throws -> PspCallResult
    /// The current state of an earlier charge (used to follow PENDING results up). The whole
    /// charge and the PSP's reference for it (when known) come along so an adapter can look it
    /// up however its PSP needs (Adyen, with no status query, replays the idempotent create).
    func retrieve(_ charge: PspCharge, pspReference: String?) async throws -> PspCallResult
    /// Refunds (part of) a settled payment; the refund id is the PSP's idempotency key, and a
    /// reference the PSP names before it moves money goes to `journal` first, as for `charge`.
    func refund(_ refund: PspRefund, journal: PspReferenceJournal) async throws -> PspCallResult
    /// The current state of an earlier refund (`pspReference`: the PSP's id for it, when known).
    func retrieveRefund(_ refund: PspRefund, pspReference: String?) async throws -> PspCallResult
}

/// What is refunded: how much of which payment, under the refund's own id.
public struct PspRefund: Sendable, Hashable {
    public var refundID: RefundID
    public var amountMinor: Int64
    public var currency: String
    /// The PSP's id for the payment (Stripe's pi_..., Adyen's pspReference); a refund without
    /// one cannot be asked for.
    public var paymentPspReference: String?

    public init(refundID: RefundID, amountMinor: Int64, currency: String, paymentPspReference: String?) {
        self.refundID = refundID
        self.amountMinor = amountMinor
        self.currency = currency
        self.paymentPspReference = paymentPspReference
    }

    /// The answer for a refund of a payment the PSP never named: nothing to refund at the PSP.
    public static let noPaymentReference = PspCallResult(
        status: .failed, errorCode: "payment_reference_missing",
        errorMessage: "the order has no PSP reference for its payment, so the PSP cannot be asked to refund it")
}

/// What is charged: the order, its amount in minor units of `currency`, and the PSP token.
public struct PspCharge: Sendable, Hashable {
    public var paymentOrderID: PaymentOrderID
    public var amountMinor: Int64
    public var currency: String
    public var paymentMethod: String

    public init(paymentOrderID: PaymentOrderID, amountMinor: Int64, currency: String, paymentMethod: String) {
        self.paymentOrderID = paymentOrderID
        self.amountMinor = amountMinor
        self.currency = currency
        self.paymentMethod = paymentMethod
    }
}

extension PaymentServiceProvider {
    public func charge(paymentOrderID: PaymentOrderID, amountMinor: Int64, currency: String, paymentMethod: String) async throws -> PspCallResult {
        try await charge(PspCharge(paymentOrderID: paymentOrderID, amountMinor: amountMinor, currency: currency, paymentMethod: paymentMethod),
                         journal: .none)
    }

    public func retrieve(paymentOrderID: PaymentOrderID, paymentMethod: String) async throws -> PspCallResult {
        try await retrieve(PspCharge(paymentOrderID: paymentOrderID, amountMinor: 0, currency: "", paymentMethod: paymentMethod),
                           pspReference: nil)
    }
}

/// Where a charge's PSP reference is written down (the executor's journal) before the PSP is
/// asked to move money, and what an earlier call of the same attempt wrote there.
public struct PspReferenceJournal: Sendable {
    /// The reference an earlier call of this attempt recorded, if any.
    public let known: String?
    private let write: @Sendable (String) async throws -> Void

    public init(known: String?, write: @escaping @Sendable (String) async throws -> Void) {
        self.known = known
        self.write = write
    }

    /// Durably records `reference`; returns once it is journaled.
    public func record(_ reference: String) async throws {
        try await write(reference)
    }

    /// Nothing known, nothing kept: for callers without a journal (tests, the simulators).
    public static let none = PspReferenceJournal(known: nil) { _ in }
}

/// The simulated PSPs' behaviour by payment-method token (shared notes, contract.md), as a pure
/// function of the token and how many calls came before.
public enum SimulatedPSPBehavior {
    public static let flakyFailures = 2
    public static let pendingSettlesAfterMilliseconds: Int64 = 200

    /// The answer to call number `attempt` (0-based) of `charge` for this token, or a transient
    /// error. `reference` is the PSP reference this PSP gives the order.
    public static func charge(token: String, attempt: Int, reference: String) -> Result<PspCallResult, PspTransientError.Kind> {
        switch token {
        case "tok_visa":
            return .success(PspCallResult(status: .successful, pspReference: reference))
        case "tok_chargeDeclined":
            return .success(PspCallResult(status: .failed, pspReference: reference, errorCode: "card_declined",
                                          errorMessage: "Your card was declined."))
        case "tok_insufficientFunds":
            return .success(PspCallResult(status: .failed, pspReference: reference, errorCode: "insufficient_funds",
                                          errorMessage: "Your card has insufficient funds."))
        case "tok_pending":
            return .success(PspCallResult(status: .pending, pspReference: reference,
                                          retryAfterMilliseconds: pendingSettlesAfterMilliseconds))
        case "tok_flaky":
            if attempt < flakyFailures { return .failure(attempt % 2 == 0 ? .error : .timeout) }
            return .success(PspCallResult(status: .successful, pspReference: reference))
        default:
            return .success(PspCallResult(status: .failed, errorCode: "invalid_payment_method",
                                          errorMessage: "Unknown payment method token \(token)."))
        }
    }

    /// The settled answer for a token once any PENDING phase is over.
    public static func settled(token: String, reference: String) -> PspCallResult {
        switch token {
        case "tok_pending": PspCallResult(status: .successful, pspReference: reference)
        default: firstAnswer(token: token, reference: reference)
        }
    }

    /// A token's answer once it is past its transient failures: what a repeated charge of an
    /// answered order gets (PENDING for tok_pending).
    public static func firstAnswer(token: String, reference: String) -> PspCallResult {
        (try? charge(token: token, attempt: flakyFailures, reference: reference).get())
            ?? PspCallResult(status: .failed, errorCode: "invalid_payment_method")
    }

    /// A refund's answer: SUCCESSFUL for a payment the PSP named, with a stable reference shaped
    /// like the PSP's own refund ids, so a repeated refund answers the same.
    public static func refund(_ refund: PspRefund, psp: String) -> PspCallResult {
        guard refund.paymentPspReference != nil else { return PspRefund.noPaymentReference }
        let order = refund.refundID.paymentOrderID
        let reference = psp == "adyen" ? "PSP" + order.hexDigits(from: 4, uppercase: true) + "R\(refund.refundID.number)"
            : "re_" + order.hexDigits(from: 4) + "_\(refund.refundID.number)"
        return PspCallResult(status: .successful, pspReference: reference)
    }

    /// A stable PSP reference for an order, shaped like the PSP's own.
    /// The order id's last 24 hex digits (its last 12 bytes), upper-case after "PSP" for Adyen,
    /// lower-case after "pi_" for Stripe; made from the bytes (this runs for every PSP call).
    public static func reference(psp: String, paymentOrderID: PaymentOrderID) -> String {
        psp == "adyen" ? "PSP" + paymentOrderID.hexDigits(from: 4, uppercase: true) : "pi_" + paymentOrderID.hexDigits(from: 4)
    }
}

extension PspTransientError {
    public enum Kind: Error, Sendable, Hashable {
        case error
        case timeout
    }
}

/// A simulated Stripe or Adyen: follows `SimulatedPSPBehavior`, answers a repeated charge of an
/// order with its first outcome (idempotency by payment order id), and waits `latency` per call.
///
/// It remembers an order for `memory` after its first charge (30 s: longer than any retry or
/// PENDING follow-up of the executor), then answers from the token as after a restart. Keeping
/// every order forever grew the executor by ~100 bytes per order, gigabytes in a long load test.
/// A lock, not an actor: a call is a dictionary lookup, cheaper than hopping to an executor.
public final class SimulatedPSP: PaymentServiceProvider {
    public let name: String
    private let latencyMilliseconds: Int
    private let memory: Mutex<ChargeMemory>

    public init(name: String, latencyMilliseconds: Int = 0, memory: Duration = .seconds(30)) {
        self.name = name
        self.latencyMilliseconds = latencyMilliseconds
        self.memory = Mutex(ChargeMemory(retention: memory))
    }

    /// Orders remembered now (for tests and the memory bound).
    public var rememberedOrders: Int { memory.withLock { $0.charges.count } }

    public func charge(_ charge: PspCharge, journal: PspReferenceJournal) async throws -> PspCallResult {
        let paymentOrderID = charge.paymentOrderID
        let paymentMethod = charge.paymentMethod
        if latencyMilliseconds > 0 { try await Task.sleep(for: .milliseconds(latencyMilliseconds)) }
        let reference = SimulatedPSPBehavior.reference(psp: name, paymentOrderID: paymentOrderID)
        let now = ContinuousClock.now
        let outcome = memory.withLock { memory -> Result<PspCallResult, PspTransientError.Kind> in
            memory.forgetExpired(now: now)
            var charge = memory.charges[paymentOrderID] ?? ChargeMemory.Charge(token: paymentMethod)
            if charge.answered {
                // The first outcome again: every token's answer is fixed once it has answered.
                return .success(SimulatedPSPBehavior.firstAnswer(token: charge.token, reference: reference))
            }
            let outcome = SimulatedPSPBehavior.charge(token: paymentMethod, attempt: charge.failedAttempts, reference: reference)
            switch outcome {
            case .success(let result):
                charge.answered = true
                charge.token = paymentMethod
                charge.settlesAt = result.retryAfterMilliseconds.map { now + .milliseconds($0) }
            case .failure:
                charge.failedAttempts += 1
            }
            memory.remember(paymentOrderID, charge, now: now)
            return outcome
        }
        switch outcome {
        case .success(let result): return result
        case .failure(.timeout): throw PspTransientError(psp: name, message: "timed out")
        case .failure(.error): throw PspTransientError(psp: name, message: "503 service unavailable")
        }
    }

    public func retrieve(_ charge: PspCharge, pspReference: String?) async throws -> PspCallResult {
        let paymentOrderID = charge.paymentOrderID
        let paymentMethod = charge.paymentMethod
        if latencyMilliseconds > 0 { try await Task.sleep(for: .milliseconds(latencyMilliseconds)) }
        let reference = SimulatedPSPBehavior.reference(psp: name, paymentOrderID: paymentOrderID)
        let now = ContinuousClock.now
        let charge = memory.withLock { memory -> ChargeMemory.Charge? in
            memory.forgetExpired(now: now)
            return memory.charges[paymentOrderID]
        }
        guard let charge, charge.answered else {
            // A real PSP keeps its charges when the executor restarts; this simulator lives in
            // the executor's process, so after a restart it answers from the token: settled.
            return SimulatedPSPBehavior.settled(token: paymentMethod, reference: reference)
        }
        if let settlesAt = charge.settlesAt, now < settlesAt {
            return SimulatedPSPBehavior.firstAnswer(token: charge.token, reference: reference)
        }
        return SimulatedPSPBehavior.settled(token: charge.token, reference: reference)
    }

    public func refund(_ refund: PspRefund, journal: PspReferenceJournal) async throws -> PspCallResult {
        if latencyMilliseconds > 0 { try await Task.sleep(for: .milliseconds(latencyMilliseconds)) }
        return SimulatedPSPBehavior.refund(refund, psp: name)
    }

    public func retrieveRefund(_ refund: PspRefund, pspReference: String?) async throws -> PspCallResult {
        if latencyMilliseconds > 0 { try await Task.sleep(for: .milliseconds(latencyMilliseconds)) }
        return SimulatedPSPBehavior.refund(refund, psp: name)
    }
}

/// What a simulated PSP remembers of recent charges, forgotten in first-charge order.
struct ChargeMemory {
    struct Charge {
        var token: String
        var failedAttempts = 0
        var answered = false
        var settlesAt: ContinuousClock.Instant?
    }

    let retention: Duration
    var charges: [PaymentOrderID: Charge] = [:]
    /// First charges, oldest first; `expiryStart` is the oldest not yet forgotten.
    private var expiry: [(id: PaymentOrderID, at: ContinuousClock.Instant)] = []
    private var expiryStart = 0

    init(retention: Duration) {
        self.retention = retention
    }

    mutating func remember(_ id: PaymentOrderID, _ charge: Charge, now: ContinuousClock.Instant) {
        if charges.updateValue(charge, forKey: id) == nil { expiry.append((id, now)) }
    }

    mutating func forgetExpired(now: ContinuousClock.Instant) {
        while expiryStart < expiry.count, expiry[expiryStart].at + retention <= now {
            charges[expiry[expiryStart].id] = nil
            expiryStart += 1
        }
        // Drop the forgotten prefix once it is half the array (amortized O(1) per order).
        if expiryStart > 1024, expiryStart * 2 > expiry.count {
            expiry.removeFirst(expiryStart)
            expiryStart = 0
        }
    }
}
