import Foundation
import Payments

/// Adyen Checkout's `/payments` as pure functions (docs.adyen.com/api-explorer/Checkout/71,
/// psp-edge.md section 2): the request paynode sends and what it makes of the answer. Adyen has
/// no status query: a Pending or Received payment waits for its AUTHORISATION webhook, and
/// asking again means replaying the create with the same Idempotency-Key (kept at least 31
/// days), which answers the first outcome.
public enum AdyenAPI {
    public static let paymentsPath = "/v71/payments"
    /// What a Pending/Received payment waits before the create is replayed; the webhook usually
    /// settles it at the service first.
    public static let pendingRetryMilliseconds: Int64 = 5000

    /// The `/payments` body: the order id is the `reference` (Adyen's merchantReference in
    /// webhooks), the payment method a stored token charged without the shopper present.
    public static func paymentBody(order: PaymentOrderID, amountMinor: Int64, currency: String, paymentMethod: String,
                                   merchantAccount: String) -> [UInt8] {
        let body: [String: Any] = [
            "merchantAccount": merchantAccount,
            "reference": order.description,
            "amount": ["value": amountMinor, "currency": currency.uppercased()],
            "paymentMethod": ["type": "scheme", "storedPaymentMethodId": paymentMethod],
            "shopperInteraction": "ContAuth",
            "recurringProcessingModel": "UnscheduledCardOnFile",
        ]
        return (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])).map(Array.init) ?? []
    }

    /// `/payments/{paymentPspReference}/refunds`: asynchronous at Adyen, answered `received`;
    /// the outcome comes as a REFUND webhook (success true/false) whose `originalReference` is
    /// the payment's pspReference and `merchantReference` the refund id sent as `reference`.
    public static func refundPath(paymentPspReference: String) -> String {
        let escaped = paymentPspReference.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? paymentPspReference
        return "/v71/payments/\(escaped)/refunds"
    }

    public static func refundBody(_ refund: PspRefund, merchantAccount: String) -> [UInt8] {
        let body: [String: Any] = [
            "merchantAccount": merchantAccount,
            "reference": refund.refundID.description,
            "amount": ["value": refund.amountMinor, "currency": refund.currency.uppercased()],
        ]
        return (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])).map(Array.init) ?? []
    }

    /// A refund request's answer: 201 `received` is PENDING under the refund's pspReference
    /// (the webhook settles it); the errors read as for `/payments`.
    public static func refundAnswer(status: Int, body: [UInt8], retryAfter: String?) -> Answer {
        guard (200..<300).contains(status) else { return answer(status: status, body: body, retryAfter: retryAfter) }
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        guard let object, let state = object["status"] as? String else {
            return .transient(message: "HTTP \(status) without a refund status", retryAfterMilliseconds: nil)
        }
        let reference = object["pspReference"] as? String
        guard state == "received" else {
            return .result(PspCallResult(status: .failed, pspReference: reference, errorCode: "adyen_\(state)",
                                         errorMessage: "Adyen answered the refund \(state)"))
        }
        return .result(PspCallResult(status: .pending, pspReference: reference, retryAfterMilliseconds: refundPendingRetryMilliseconds))
    }

    /// What a received refund waits before the request is replayed (its answer stays `received`;
    /// the REFUND webhook is what settles it).
    public static let refundPendingRetryMilliseconds: Int64 = 60_000

    public enum Answer: Sendable, Hashable {
        case result(PspCallResult)
        case transient(message: String, retryAfterMilliseconds: Int64?)
    }

    /// An HTTP answer: 200 carries a `resultCode`; 422 is a request Adyen refused (no payment);
    /// 401/403 a key problem (retried, nothing was charged); 409, 429 and 5xx are retried with
    /// the same Idempotency-Key.
    public static func answer(status: Int, body: [UInt8], retryAfter: String?) -> Answer {
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        let retryAfterMilliseconds = retryAfter.flatMap(StripeAPI.retryAfterMilliseconds)
        switch status {
        case 200..<300:
            guard let object, let resultCode = object["resultCode"] as? String else {
                return .transient(message: "HTTP \(status) without a resultCode", retryAfterMilliseconds: nil)
            }
            return .result(result(resultCode: resultCode, pspReference: object["pspReference"] as? String,
                                  refusalReason: object["refusalReason"] as? String))
        case 422:
            let code = (object?["errorCode"] as? String).map { "adyen_\($0)" } ?? "invalid_request"
            return .result(PspCallResult(status: .failed, pspReference: object?["pspReference"] as? String, errorCode: code,
                                         errorMessage: (object?["message"] as? String).map { String($0.prefix(500)) }))
        case 401, 403:
            return .transient(message: "HTTP \(status) (check the Adyen API key and merchant account)", retryAfterMilliseconds: nil)
        default:
            let message = (object?["message"] as? String).map { String($0.prefix(500)) } ?? "no message"
            return .transient(message: "HTTP \(status): \(message)", retryAfterMilliseconds: retryAfterMilliseconds)
        }
    }

    /// `resultCode` per docs.adyen.com/online-payments/payment-result-codes. The FAILED codes
    /// match what the AUTHORISATION webhook says of the same payment (`refused` with Adyen's
    /// reason), so the executor's result and the webhook's read as one outcome.
    public static func result(resultCode: String, pspReference: String?, refusalReason: String?) -> PspCallResult {
        switch resultCode {
        case "Authorised":
            return PspCallResult(status: .successful, pspReference: pspReference)
        case "Refused":
            return PspCallResult(status: .failed, pspReference: pspReference, errorCode: "refused", errorMessage: refusalReason)
        case "Cancelled":
            return PspCallResult(status: .failed, pspReference: pspReference, errorCode: "cancelled", errorMessage: refusalReason)
        case "Error":
            return PspCallResult(status: .failed, pspReference: pspReference, errorCode: "error", errorMessage: refusalReason)
        case "Pending", "Received":
            return PspCallResult(status: .pending, pspReference: pspReference, retryAfterMilliseconds: pendingRetryMilliseconds)
        case "RedirectShopper", "IdentifyShopper", "ChallengeShopper", "PresentToShopper":
            return PspCallResult(status: .failed, pspReference: pspReference, errorCode: "authentication_required",
                                 errorMessage: "the payment needs the shopper (\(resultCode)); paynode charges server-side only")
        default:
            return PspCallResult(status: .pending, pspReference: pspReference, retryAfterMilliseconds: pendingRetryMilliseconds)
        }
    }
}
