import Foundation
import Payments

/// Stripe's PaymentIntents API as pure functions: the requests paynode sends and what it makes
/// of the answers (docs.stripe.com/api/payment_intents, psp-edge.md section 2). No I/O here;
/// `StripePSP` sends what this builds.
///
/// A charge is two calls. `create` (Idempotency-Key: the payment order id) names the charge, a
/// PaymentIntent `pi_...`, without moving money; the executor journals that id; then `confirm`
/// (Idempotency-Key: "<order id>:confirm") charges it. A repeat after a crash, or after Stripe
/// pruned its 24-hour idempotency keys, confirms or retrieves the journaled intent and can
/// never create and confirm a second one.
public enum StripeAPI {
    /// Pinned so that `payment_method_types` defaults to card and a server-side confirm needs no
    /// `return_url` (later versions default to automatic payment methods).
    public static let apiVersion = "2022-11-15"
    public static let orderMetadataKey = "payment_order_id"
    /// What a PENDING (`processing`) intent waits before it is retrieved again; its webhook
    /// usually settles it first.
    public static let processingRetryMilliseconds: Int64 = 2000

    public static func createPath() -> String { "/v1/payment_intents" }

    /// The PaymentIntent id an (unverified) event body names, if it looks like one: only a
    /// hint of what to ask Stripe about, never trusted for anything else.
    public static func intentHint(inEventBody body: some Collection<UInt8>) -> String? {
        guard let event = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
              let object = (event["data"] as? [String: Any])?["object"] as? [String: Any],
              let id = object["id"] as? String, id.hasPrefix("pi_"), id.utf8.count <= 255,
              id.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                  || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) else {
            return nil
        }
        return id
    }
    public static func confirmPath(_ intent: String) -> String { "/v1/payment_intents/\(pathComponent(intent))/confirm" }
    public static func retrievePath(_ intent: String) -> String { "/v1/payment_intents/\(pathComponent(intent))" }
    public static func confirmIdempotencyKey(_ order: PaymentOrderID) -> String { "\(order):confirm" }

    /// The create call's form body (`application/x-www-form-urlencoded`, nested fields in brackets).
    public static func createForm(order: PaymentOrderID, amountMinor: Int64, currency: String, paymentMethod: String) -> String {
        formEncode([
            ("amount", String(amountMinor)),
            ("currency", currency.lowercased()),
            ("payment_method", paymentMethod),
            ("metadata[\(orderMetadataKey)]", order.description),
        ])
    }

    public static func formEncode(_ fields: [(String, String)]) -> String {
        fields.map { "\(formEscape($0.0))=\(formEscape($0.1))" }.joined(separator: "&")
    }

    /// What one call came to.
    public enum Answer: Sendable, Hashable {
        /// The intent as Stripe reports it.
        case intent(Intent)
        /// A final answer without an intent to read (a declined card's error, a refused request).
        case result(PspCallResult)
        /// Try again later (network, 409, 429, 5xx, Stripe-Should-Retry: true).
        case transient(message: String, retryAfterMilliseconds: Int64?)
        /// The call cannot apply to the intent as it is (already confirmed, or Stripe asks not
        /// to retry a failed call): read the intent's state instead.
        case readState(message: String)
        /// Stripe refused the request itself (400/404: an unknown payment method, a bad
        /// parameter): a create refused so charged nothing.
        case refused(code: String?, message: String)
    }

    /// The parts of a PaymentIntent paynode reads.
    public struct Intent: Sendable, Hashable {
        public var id: String
        public var status: String
        public var declineCode: String?
        public var errorCode: String?
        public var errorMessage: String?
        public var cancellationReason: String?
        /// `metadata.payment_order_id`: the order the intent was created for.
        public var paymentOrderId: String?

        public init(id: String, status: String, declineCode: String? = nil, errorCode: String? = nil, errorMessage: String? = nil,
                    cancellationReason: String? = nil, paymentOrderId: String? = nil) {
            self.id = id
            self.status = status
            self.declineCode = declineCode
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.cancellationReason = cancellationReason
            self.paymentOrderId = paymentOrderId
        }

        init?(_ object: [String: Any]) {
            guard let id = object["id"] as? String, id.hasPrefix("pi_"), let status = object["status"] as? String else { return nil }
            let error = object["last_payment_error"] as? [String: Any]
            self.init(id: id, status: status, declineCode: error?["decline_code"] as? String, errorCode: error?["code"] as? String,
                      errorMessage: error?["message"] as? String, cancellationReason: object["cancellation_reason"] as? String,
                      paymentOrderId: (object["metadata"] as? [String: Any])?[StripeAPI.orderMetadataKey] as? String)
        }
    }

    /// What an intent's state means for the payment.
    public enum IntentState: Sendable, Hashable {
        case result(PspCallResult)
        /// Created, not yet confirmed: nothing was charged.
        case needsConfirmation
    }

    /// Statuses per psp-edge.md: a failed attempt sends the intent back to
    /// `requires_payment_method` with `last_payment_error` (Stripe has no "failed" status).
    public static func state(of intent: Intent) -> IntentState {
        switch intent.status {
        case "succeeded":
            return .result(PspCallResult(status: .successful, pspReference: intent.id))
        case "processing", "requires_capture":
            return .result(PspCallResult(status: .pending, pspReference: intent.id, retryAfterMilliseconds: processingRetryMilliseconds))
        case "requires_payment_method" where intent.errorCode != nil || intent.declineCode != nil:
            return .result(PspCallResult(status: .failed, pspReference: intent.id, errorCode: intent.declineCode ?? intent.errorCode,
                                         errorMessage: intent.errorMessage))
        case "requires_payment_method", "requires_confirmation":
            return .needsConfirmation
        case "requires_action":
            return .result(PspCallResult(status: .failed, pspReference: intent.id, errorCode: "authentication_required",
                                         errorMessage: "the payment needs the customer (3-D Secure); paynode charges server-side only"))
        case "canceled":
            return .result(PspCallResult(status: .failed, pspReference: intent.id, errorCode: "canceled",
                                         errorMessage: intent.cancellationReason.map { "canceled: \($0)" }))
        default:
            return .result(PspCallResult(status: .pending, pspReference: intent.id, retryAfterMilliseconds: processingRetryMilliseconds))
        }
    }

    /// An HTTP answer read as Stripe documents its errors (docs.stripe.com/api/errors,
    /// docs.stripe.com/error-low-level): 402 is a declined card (with the intent when Stripe
    /// sends it), 409 a concurrent request with the same idempotency key, 429 and 5xx worth
    /// retrying (a 500 is indeterminate, and the idempotency key makes the retry safe);
    /// `Stripe-Should-Retry` overrides that reading either way.
    public static func answer(status: Int, body: [UInt8], shouldRetry: String?, retryAfter: String?) -> Answer {
        let retryAfterMilliseconds = retryAfter.flatMap(Self.retryAfterMilliseconds)
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        if (200..<300).contains(status) {
            guard let object, let intent = Intent(object) else {
                return .transient(message: "HTTP \(status) without a PaymentIntent", retryAfterMilliseconds: nil)
            }
            return .intent(intent)
        }
        let error = object?["error"] as? [String: Any]
        let code = error?["code"] as? String
        let message = (error?["message"] as? String).map { String($0.prefix(500)) }
        let described = "HTTP \(status)\(code.map { " \($0)" } ?? ""): \(message ?? "no message")"
        if shouldRetry?.lowercased() == "true" {
            return .transient(message: described, retryAfterMilliseconds: retryAfterMilliseconds)
        }
        switch status {
        case 402:
            if let intentObject = error?["payment_intent"] as? [String: Any], let intent = Intent(intentObject) {
                return .intent(intent)
            }
            return .result(PspCallResult(status: .failed, errorCode: (error?["decline_code"] as? String) ?? code ?? "card_declined",
                                         errorMessage: message))
        case 400 where code == "payment_intent_unexpected_state":
            return .readState(message: described)
        case 409, 429:
            return .transient(message: described, retryAfterMilliseconds: retryAfterMilliseconds)
        case 500...:
            if shouldRetry?.lowercased() == "false" { return .readState(message: described) }
            return .transient(message: described, retryAfterMilliseconds: retryAfterMilliseconds)
        case 401, 403:
            // A key problem is the operator's to fix; nothing was charged, so the call is retried
            // (and, out of calls, fails as psp_unavailable) rather than declined.
            return .transient(message: "\(described) (check the Stripe API key)", retryAfterMilliseconds: nil)
        case 400..<500:
            return .refused(code: code, message: described)
        default:
            return .transient(message: described, retryAfterMilliseconds: retryAfterMilliseconds)
        }
    }

    // MARK: Refunds (docs.stripe.com/api/refunds, psp-edge.md section 5)

    public static let refundMetadataKey = "refund_id"
    /// What a pending refund waits before it is read again; Stripe settles most within minutes,
    /// some (bank transfers) in days, which the reconciliation schedule takes over.
    public static let refundPendingRetryMilliseconds: Int64 = 30_000

    public static func refundPath() -> String { "/v1/refunds" }
    public static func refundRetrievePath(_ refund: String) -> String { "/v1/refunds/\(pathComponent(refund))" }
    /// The intent's refunds, to find one whose create answer was lost (by its metadata).
    public static func refundListPath(intent: String) -> String { "/v1/refunds?payment_intent=\(formEscape(intent))&limit=100" }

    /// The create call's form: the intent, the amount, and the refund and order ids as metadata.
    public static func refundForm(_ refund: PspRefund, intent: String) -> String {
        formEncode([
            ("payment_intent", intent),
            ("amount", String(refund.amountMinor)),
            ("metadata[\(refundMetadataKey)]", refund.refundID.description),
            ("metadata[\(orderMetadataKey)]", refund.refundID.paymentOrderID.description),
        ])
    }

    /// The parts of a Refund paynode reads.
    public struct Refund: Sendable, Hashable {
        public var id: String
        public var status: String
        public var failureReason: String?
        /// `metadata.refund_id`: the paynode refund it was created for.
        public var refundId: String?

        public init(id: String, status: String, failureReason: String? = nil, refundId: String? = nil) {
            self.id = id
            self.status = status
            self.failureReason = failureReason
            self.refundId = refundId
        }

        init?(_ object: [String: Any]) {
            guard let id = object["id"] as? String, id.hasPrefix("re_"), let status = object["status"] as? String else { return nil }
            self.init(id: id, status: status, failureReason: object["failure_reason"] as? String,
                      refundId: (object["metadata"] as? [String: Any])?[StripeAPI.refundMetadataKey] as? String)
        }
    }

    /// Refund statuses: `pending` and `requires_action` wait, `succeeded`, `failed` and
    /// `canceled` are final.
    public static func refundResult(of refund: Refund) -> PspCallResult {
        switch refund.status {
        case "succeeded":
            return PspCallResult(status: .successful, pspReference: refund.id)
        case "failed":
            return PspCallResult(status: .failed, pspReference: refund.id, errorCode: refund.failureReason ?? "refund_failed",
                                 errorMessage: "Stripe could not complete the refund")
        case "canceled":
            return PspCallResult(status: .failed, pspReference: refund.id, errorCode: "canceled", errorMessage: "the refund was canceled")
        default:
            return PspCallResult(status: .pending, pspReference: refund.id, retryAfterMilliseconds: refundPendingRetryMilliseconds)
        }
    }

    /// What a refund call came to: the refund, or any other answer as `answer` reads it.
    public enum RefundAnswer: Sendable, Hashable {
        case refund(Refund)
        /// A list of refunds (`refundListPath`), the one made for `refundId` picked out (nil: none).
        case listed(Refund?)
        case other(Answer)
    }

    /// `refundId`: for a list answer, the paynode refund to pick out of it.
    public static func refundAnswer(status: Int, body: [UInt8], shouldRetry: String?, retryAfter: String?,
                                    refundId: String? = nil) -> RefundAnswer {
        guard (200..<300).contains(status) else {
            return .other(answer(status: status, body: body, shouldRetry: shouldRetry, retryAfter: retryAfter))
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        if let object, object["object"] as? String == "list", let data = object["data"] as? [[String: Any]] {
            return .listed(data.compactMap(Refund.init).first { $0.refundId != nil && $0.refundId == refundId })
        }
        guard let object, let refund = Refund(object) else {
            return .other(.transient(message: "HTTP \(status) without a Refund", retryAfterMilliseconds: nil))
        }
        return .refund(refund)
    }

    /// `Retry-After` in seconds (Stripe sends seconds), as milliseconds; nil when it is not a
    /// number of seconds from 0 to an hour.
    public static func retryAfterMilliseconds(_ text: String) -> Int64? {
        guard let seconds = Double(text.trimmingCharacters(in: .whitespaces)), seconds.isFinite, seconds >= 0, seconds <= 3600 else {
            return nil
        }
        return Int64(seconds * 1000)
    }

    private static func pathComponent(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "_-"))) ?? text
    }

    /// RFC 3986 unreserved characters stay; everything else is percent-encoded (form bodies
    /// take `%20` as well as `+` for a space).
    static func formEscape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: formSafe) ?? text
    }

    private static let formSafe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
}
