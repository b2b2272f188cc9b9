import Payments

/// The query of `GET /v1/payment-orders`: one page of orders, newest first.
public struct OrderListQuery: Sendable, Hashable {
    /// Only orders of this status; nil for every status.
    public var status: PaymentStatus?
    /// The most orders on the page.
    public var limit: Int
    /// The last order of the previous page; nil for the first page.
    public var cursor: PaymentOrderID?
    /// Only PENDING orders reconciliation gave up on (`needs_attention`).
    public var needsAttention = false

    public static let defaultLimit = 50
    public static let allowedLimits = 1...500

    public init(status: PaymentStatus? = nil, limit: Int = OrderListQuery.defaultLimit, cursor: PaymentOrderID? = nil) {
        self.status = status
        self.limit = limit
        self.cursor = cursor
    }

    /// The query from its parameters as the client sent them (nil: absent), checked in this
    /// order: status, limit, cursor.
    public static func parse(status: String?, limit: String?, cursor: String?, needsAttention: String? = nil) throws(PaymentRequestError) -> OrderListQuery {
        var query = OrderListQuery()
        if let needsAttention {
            switch needsAttention {
            case "true": query.needsAttention = true
            case "false": break
            default: throw PaymentRequestError(code: "invalid_needs_attention", message: "needsAttention must be true or false")
            }
        }
        if let status {
            guard let parsed = PaymentStatus(rawValue: status) else {
                throw PaymentRequestError(code: "invalid_status", message: "status must be PENDING, SUCCESSFUL or FAILED")
            }
            query.status = parsed
            if query.needsAttention, parsed != .pending {
                throw PaymentRequestError(code: "invalid_status", message: "orders that need attention are PENDING; drop status or ask for PENDING")
            }
        }
        if let limit {
            guard let parsed = Int(limit), allowedLimits.contains(parsed) else {
                throw PaymentRequestError(code: "invalid_limit", message: "limit must be 1 to 500")
            }
            query.limit = parsed
        }
        if let cursor {
            guard let parsed = PaymentOrderID(cursor) else {
                throw PaymentRequestError(code: "invalid_cursor", message: "cursor must be a payment order id")
            }
            query.cursor = parsed
        }
        return query
    }
}

/// The page cursors of one order's reads, from the query parameters as the client sent them.
public enum OrderPageCursor {
    /// `GET /v1/payment-orders/{id}?historyCursor=N`: the position of the history page's first
    /// entry (0 when absent).
    public static func history(_ text: String?) throws(PaymentRequestError) -> Int {
        guard let text else { return 0 }
        guard let parsed = Int(text), parsed >= 0 else {
            throw PaymentRequestError(code: "invalid_history_cursor",
                                      message: "historyCursor must be a non-negative integer (historyNextCursor of the previous page)")
        }
        return parsed
    }

    /// `GET /v1/payment-orders/{id}/audit?cursor=N`: the sequence of the page's first audit
    /// entry (0 when absent).
    public static func audit(_ text: String?) throws(PaymentRequestError) -> UInt64 {
        guard let text else { return 0 }
        guard let parsed = UInt64(text) else {
            throw PaymentRequestError(code: "invalid_cursor", message: "cursor must be a non-negative integer (nextCursor of the previous page)")
        }
        return parsed
    }
}
