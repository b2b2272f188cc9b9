/// What `PaymentService.createOrder` did. The service decides, the node's HTTP adapter answers:
/// no status code, header or error body is chosen here.
public enum CreateOrderOutcome: Sendable, Hashable {
    /// Stored now (PENDING), with its `PaymentOrderCreated` record; the order's JSON.
    case created(order: String)
    /// The key was seen before with the same request: the JSON its creation answered.
    case replayed(order: String)
    /// Refused before anything was stored: the body or the Idempotency-Key is not valid.
    case invalid(PaymentRequestError)
    /// The key was used before, by the same merchant, with a different request.
    case idempotencyKeyReused(key: String)
    /// The order is for another merchant than the only one the caller may create orders for.
    case merchantForbidden
}

/// One order read by id (`order(_:)`, `audit(_:)`). Another merchant's order, an id that is no
/// order id, and an order that does not exist all read as `notFound`: a caller learns nothing
/// of orders it may not see.
public enum OrderLookup: Sendable, Hashable {
    /// The order's JSON.
    case found(String)
    case notFound
}
