/// A refund's id: its order's id and its number among the order's refunds, spelled
/// "<paymentOrderId>-r<n>". Derivable from the order, so a refund result names where its refund
/// is stored without an index, and unique across orders, so it is the PSP's idempotency key for
/// the refund (Stripe's `Idempotency-Key`, Adyen's `reference`).
public struct RefundID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let paymentOrderID: PaymentOrderID
    /// 1, 2, ... in the order the refunds were requested.
    public let number: Int

    /// The most refunds one order may have; a number's text has at most 5 digits.
    public static let maximumNumber = 99_999

    public init?(paymentOrderID: PaymentOrderID, number: Int) {
        guard (1...Self.maximumNumber).contains(number) else { return nil }
        self.paymentOrderID = paymentOrderID
        self.number = number
    }

    /// Parses "<36-character order id>-r<n>", n without sign or leading zeros.
    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        guard utf8.count > 38, utf8.count <= 38 + 5, utf8[36] == UInt8(ascii: "-"), utf8[37] == UInt8(ascii: "r"),
              utf8[38] != UInt8(ascii: "0"), utf8[38...].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let id = PaymentOrderID(String(decoding: utf8[..<36], as: UTF8.self)),
              let number = Int(String(decoding: utf8[38...], as: UTF8.self)) else { return nil }
        self.init(paymentOrderID: id, number: number)
    }

    public var description: String { "\(paymentOrderID)-r\(number)" }

    public static func < (lhs: RefundID, rhs: RefundID) -> Bool {
        (lhs.paymentOrderID, lhs.number) < (rhs.paymentOrderID, rhs.number)
    }
}

/// One refund as the refund rules see it: its amount and where it stands.
public struct RefundAmount: Sendable, Hashable {
    public var amountMinor: Int64
    public var status: PaymentStatus

    public init(amountMinor: Int64, status: PaymentStatus) {
        self.amountMinor = amountMinor
        self.status = status
    }
}

/// Why a refund request is refused.
public enum RefundRefusal: Sendable, Hashable, CustomStringConvertible {
    /// Only a SUCCESSFUL order has money to give back.
    case orderNotSuccessful(PaymentStatus)
    /// More than the order has left to refund (its amount less every refund not FAILED).
    case exceedsRefundable(requestedMinor: Int64, refundableMinor: Int64)
    /// The order has as many refunds as allowed.
    case tooManyRefunds(limit: Int)

    public var code: String {
        switch self {
        case .orderNotSuccessful: "order_not_refundable"
        case .exceedsRefundable: "refund_exceeds_refundable"
        case .tooManyRefunds: "too_many_refunds"
        }
    }

    public var description: String {
        switch self {
        case .orderNotSuccessful(let status): "only a SUCCESSFUL order can be refunded; this one is \(status.rawValue)"
        case .exceedsRefundable(let requested, let refundable):
            "the refund of \(requested) exceeds the \(refundable) left to refund (the amount less every refund not FAILED)"
        case .tooManyRefunds(let limit): "the order has \(limit) refunds, the most one order may have"
        }
    }
}

/// The refund rules, pure: which refund requests are accepted, and what a PSP's refund result
/// does to its refund. A refund moves as a payment does (PENDING, then SUCCESSFUL or FAILED,
/// terminal states sticky, duplicates and conflicts told apart by content), so its results are
/// decided by `ProcessPaymentRules` over the refund's own state; what is refund-specific is how
/// much may be refunded. A PENDING refund holds its amount: two refunds in flight can never add
/// up to more than was paid, and a FAILED one gives its amount back.
public enum RefundRules {
    /// What is left to refund of an order of `orderAmountMinor` with `refunds`.
    public static func refundable(orderAmountMinor: Int64, refunds: [RefundAmount]) -> Int64 {
        let held = refunds.reduce(Int64(0)) { total, refund in
            refund.status == .failed ? total : saturatingSum(total, refund.amountMinor)
        }
        return max(0, orderAmountMinor - min(held, orderAmountMinor))
    }

    /// Every SUCCESSFUL refund's amount.
    public static func refunded(_ refunds: [RefundAmount]) -> Int64 {
        refunds.reduce(Int64(0)) { total, refund in
            refund.status == .successful ? saturatingSum(total, refund.amountMinor) : total
        }
    }

    /// Amounts come from the store and the wire: a sum past Int64 stays at the bound, never traps.
    private static func saturatingSum(_ total: Int64, _ amount: Int64) -> Int64 {
        let (sum, overflow) = total.addingReportingOverflow(max(0, amount))
        return overflow ? .max : sum
    }

    /// Why a refund of `amountMinor` (> 0, checked by the request parser) is refused, or nil
    /// when it is accepted.
    public static func refusal(orderStatus: PaymentStatus, orderAmountMinor: Int64, refunds: [RefundAmount], amountMinor: Int64,
                               maximumRefunds: Int) -> RefundRefusal? {
        guard orderStatus == .successful else { return .orderNotSuccessful(orderStatus) }
        guard refunds.count < maximumRefunds else { return .tooManyRefunds(limit: maximumRefunds) }
        let refundable = refundable(orderAmountMinor: orderAmountMinor, refunds: refunds)
        guard amountMinor <= refundable else { return .exceedsRefundable(requestedMinor: amountMinor, refundableMinor: refundable) }
        return nil
    }

    /// A refund result's decision over the refund's state (`ProcessPaymentRules`), with the
    /// reason naming the refund.
    public static func decide(_ refund: PaymentOrderState, _ result: PspResult, refundID: RefundID,
                              nowMilliseconds: Int64) -> ProcessingDecision {
        var decision = ProcessPaymentRules.decide(refund, result, nowMilliseconds: nowMilliseconds)
        decision.reason = "refund \(refundID.number): " + decision.reason
        return decision
    }
}
