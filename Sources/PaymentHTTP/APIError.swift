import Foundation
import HTTPTypes
import PaymentService
import Payments

/// Every error the payment API answers, from the gate (API keys, rate limit, scope), the
/// routes, the service's outcomes and the error middleware. `APIReply(_:)` is the one place
/// that gives each its status, headers and `{"error":{"code":...,"message":...}}` body.
package enum APIError: Sendable, Hashable {
    /// A body, header or query parameter that is not what the contract says (400).
    case invalid(PaymentRequestError)
    /// No usable API key (401): missing, malformed, unknown, revoked or expired.
    case unauthenticated(APIAuthFailure)
    /// A valid key without the scope the route needs (403); nil when the scope is not known.
    case missingScope(APIScope?)
    /// A merchant key creating an order for another merchant (403).
    case merchantForbidden
    /// No order with this id that the caller may see (404); the id as the client sent it.
    case notFound(id: String)
    /// A body larger than the route takes (413).
    case bodyTooLarge(maximumBytes: Int)
    /// An Idempotency-Key used before with a different request (422).
    case idempotencyKeyReused(key: String)
    /// A refund the rules refuse: the order cannot be refunded (409) or not by that much (422).
    case refundRefused(RefundRefusal)
    /// The key is over its request rate (429).
    case rateLimited(retryAfterSeconds: Int)
    /// A route failed inside the node (500); the log has the details, the client none.
    case internalFailure
    /// API keys cannot be read right now (503).
    case keysUnavailable
    /// The store refused a write for now (503), full or overloaded; `reason` is its error code.
    case storeUnavailable(reason: String)

    /// Seconds a client waits before retrying a write the store refused for now.
    package static let storeRetryAfterSeconds = 1
    /// The most Unicode scalars of a client's id a 404 repeats; a valid id is 36 characters.
    package static let maximumEchoedIdScalars = 64

    package var status: Int {
        switch self {
        case .invalid: 400
        case .unauthenticated: 401
        case .missingScope, .merchantForbidden: 403
        case .notFound: 404
        case .bodyTooLarge: 413
        case .idempotencyKeyReused: 422
        case .refundRefused(.exceedsRefundable): 422
        case .refundRefused: 409
        case .rateLimited: 429
        case .internalFailure: 500
        case .keysUnavailable, .storeUnavailable: 503
        }
    }

    package var code: String {
        switch self {
        case .invalid(let error): error.code
        case .unauthenticated: "unauthenticated"
        case .missingScope, .merchantForbidden: "forbidden"
        case .notFound: "not_found"
        case .bodyTooLarge: "body_too_large"
        case .idempotencyKeyReused: "idempotency_key_reused"
        case .refundRefused(let refusal): refusal.code
        case .rateLimited: "rate_limited"
        case .internalFailure: "internal"
        case .keysUnavailable, .storeUnavailable: "unavailable"
        }
    }

    package var message: String {
        switch self {
        case .invalid(let error): error.message
        case .unauthenticated(let failure): Self.message(failure)
        case .missingScope(let scope): "this API key lacks the \(scope?.rawValue ?? "needed") scope"
        case .merchantForbidden: "this API key creates orders only for its own merchant"
        case .notFound(let id): "no payment order \(Self.echoed(id))"
        case .bodyTooLarge(let maximumBytes): "the body exceeds \(maximumBytes) bytes"
        case .idempotencyKeyReused(let key): "Idempotency-Key \(key) was used with a different request"
        case .refundRefused(let refusal): refusal.description
        case .rateLimited: "this API key is over its request rate; retry after Retry-After seconds"
        case .internalFailure: "the request failed inside the node; see its log"
        case .keysUnavailable: "API keys cannot be read right now; retry"
        case .storeUnavailable(let reason): "the store cannot take this write right now (\(reason)); retry"
        }
    }

    private static func message(_ failure: APIAuthFailure) -> String {
        switch failure {
        case .missing: "an Authorization: Bearer pk_... header is required"
        case .malformed: "the bearer token is not an API key (pk_ and 40 letters or digits)"
        case .revoked: "this API key was revoked"
        case .expired: "this API key has expired"
        default: "unknown API key"
        }
    }

    /// The id comes from the path as the client sent it: JSON-escaped in the body (never
    /// reflected raw, where a quote or control character would break it) and cut to what an id
    /// could be.
    private static func echoed(_ id: String) -> String {
        guard id.unicodeScalars.count > maximumEchoedIdScalars else { return id }
        return String(String.UnicodeScalarView(id.unicodeScalars.prefix(maximumEchoedIdScalars))) + "..."
    }

    /// The headers the error adds to its reply.
    fileprivate func addHeaders(to headers: inout HTTPFields) {
        switch self {
        case .unauthenticated(let failure):
            // RFC 6750 3: a request without credentials gets the bare challenge, a bad token
            // says so.
            headers[.wwwAuthenticate] = failure == .missing ? #"Bearer realm="paynode""# : #"Bearer realm="paynode", error="invalid_token""#
        case .rateLimited(let seconds):
            headers[.retryAfter] = String(seconds)
        case .storeUnavailable:
            headers[.retryAfter] = String(Self.storeRetryAfterSeconds)
        default:
            break
        }
    }

    /// The API's error object, `{"error":{"code":...,"message":...}}`, JSON-escaped: messages
    /// may quote what a client sent (an id, a key).
    package static func body(code: String, message: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(["error": ["code": code, "message": message]])).map { String(decoding: $0, as: UTF8.self) }
            ?? #"{"error":{"code":"internal"}}"#
    }
}

extension APIReply {
    /// The error's reply: its status, its body, and its headers.
    package init(_ error: APIError) {
        self.init(status: error.status, json: APIError.body(code: error.code, message: error.message))
        error.addHeaders(to: &headers)
    }
}
