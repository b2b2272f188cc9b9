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

/// A PSP that could not answer this time (network error, timeout, 5xx): retry with back-off.
public struct PspTransientError: Error, Sendable, Hashable, CustomStringConvertible {
    public var psp: String
    public var message: String

    public init(psp: String, message: String) {
        self.psp = psp
        self.message = message
    }

    public var description: String { "\(psp): \(message)" }
}

/// Every PSP adapter (Stripe, Adyen, the simulators) behind one interface. The payment order id
/// is the PSP-side idempotency key, so repeating a call after a crash is safe: the PSP answers
/// with the first outcome.
public protocol PaymentServiceProvider: Sendable {
    var name: String { get }
    func charge(paymentOrderID: PaymentOrderID, amountMinor: Int64, currency: String, paymentMethod: String) async throws -> PspCallResult
    /// The current state of an earlier charge (used to follow PENDING results up). The charge's
    /// payment method comes along so an adapter can look the charge up however its PSP needs.
    func retrieve(paymentOrderID: PaymentOrderID, paymentMethod: String) async throws -> PspCallResult
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
        default: (try? charge(token: token, attempt: flakyFailures, reference: reference).get())
            ?? PspCallResult(status: .failed, errorCode: "invalid_payment_method")
        }
    }

    /// A stable PSP reference for an order, shaped like the PSP's own.
    public static func reference(psp: String, paymentOrderID: PaymentOrderID) -> String {
        let suffix = String(paymentOrderID.description.filter { $0 != "-" }.suffix(24))
        return psp == "adyen" ? "PSP\(suffix.uppercased())" : "pi_\(suffix)"
    }
}

extension PspTransientError {
    public enum Kind: Error, Sendable, Hashable {
        case error
        case timeout
    }
}

/// A simulated Stripe or Adyen: follows `SimulatedPSPBehavior`, remembers each order's first
/// outcome (idempotency by payment order id), and waits `latency` per call.
public actor SimulatedPSP: PaymentServiceProvider {
    public nonisolated let name: String
    private let latencyMilliseconds: Int
    private var attempts: [PaymentOrderID: Int] = [:]
    private var outcomes: [PaymentOrderID: (token: String, result: PspCallResult, settlesAt: ContinuousClock.Instant?)] = [:]

    public init(name: String, latencyMilliseconds: Int = 0) {
        self.name = name
        self.latencyMilliseconds = latencyMilliseconds
    }

    public func charge(paymentOrderID: PaymentOrderID, amountMinor: Int64, currency: String, paymentMethod: String) async throws -> PspCallResult {
        if latencyMilliseconds > 0 { try await Task.sleep(for: .milliseconds(latencyMilliseconds)) }
        if let first = outcomes[paymentOrderID] { return first.result }
        let attempt = attempts[paymentOrderID, default: 0]
        attempts[paymentOrderID] = attempt + 1
        let reference = SimulatedPSPBehavior.reference(psp: name, paymentOrderID: paymentOrderID)
        switch SimulatedPSPBehavior.charge(token: paymentMethod, attempt: attempt, reference: reference) {
        case .success(let result):
            let settlesAt = result.retryAfterMilliseconds.map { ContinuousClock.now + .milliseconds($0) }
            outcomes[paymentOrderID] = (paymentMethod, result, settlesAt)
            return result
        case .failure(.timeout):
            throw PspTransientError(psp: name, message: "timed out")
        case .failure(.error):
            throw PspTransientError(psp: name, message: "503 service unavailable")
        }
    }

    public func retrieve(paymentOrderID: PaymentOrderID, paymentMethod: String) async throws -> PspCallResult {
        if latencyMilliseconds > 0 { try await Task.sleep(for: .milliseconds(latencyMilliseconds)) }
        let reference = SimulatedPSPBehavior.reference(psp: name, paymentOrderID: paymentOrderID)
        guard let outcome = outcomes[paymentOrderID] else {
            // A real PSP keeps its charges when the executor restarts; this simulator lives in
            // the executor's process, so after a restart it answers from the token: settled.
            return SimulatedPSPBehavior.settled(token: paymentMethod, reference: reference)
        }
        if let settlesAt = outcome.settlesAt, ContinuousClock.now < settlesAt {
            return outcome.result
        }
        return SimulatedPSPBehavior.settled(token: outcome.token, reference: reference)
    }
}
