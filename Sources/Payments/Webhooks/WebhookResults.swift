import Foundation

/// A PSP result as a verified webhook reports it, before anything is checked against the
/// store: the order id is the PSP's copy of ours (Stripe's `metadata.payment_order_id`,
/// Adyen's `merchantReference`), so it may name no order or no valid id at all. The consumer
/// decides what it means (applied, duplicate, dead letter for an unknown order), exactly as for
/// the executor's results.
public struct ReportedPspResult: Sendable, Hashable {
    public var paymentOrderId: String
    public var status: PspStatus
    public var pspReference: String?
    public var eventTimeMilliseconds: Int64
    public var errorCode: String?
    public var errorMessage: String?
    /// "stripe" or "adyen".
    public var psp: String
    /// The PSP's id for this notification: a redelivery repeats it, so it is the result's
    /// idempotency key with the order id.
    public var pspEventId: String
    /// Set for a refund's result: the PSP's copy of the refund id (Stripe's `metadata.refund_id`,
    /// Adyen's `merchantReference`); `pspReference` is then the refund's.
    public var refundId: String?

    public init(paymentOrderId: String, status: PspStatus, pspReference: String?, eventTimeMilliseconds: Int64,
                errorCode: String? = nil, errorMessage: String? = nil, psp: String, pspEventId: String, refundId: String? = nil) {
        self.refundId = refundId
        self.paymentOrderId = paymentOrderId
        self.status = status
        self.pspReference = pspReference
        self.eventTimeMilliseconds = eventTimeMilliseconds
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.psp = psp
        self.pspEventId = pspEventId
    }
}

/// What a verified webhook body says: results to publish, or nothing paynode acts on (an event
/// type it does not handle), or a body that is not what the PSP documents.
public enum WebhookInterpretation: Sendable, Hashable {
    case results([ReportedPspResult])
    case ignored(String)
    case malformed(String)
}

/// Stripe events (docs.stripe.com/api/events): `{"id":"evt_...","type":...,"created":<unix s>,
/// "data":{"object":{PaymentIntent}}}`. The PaymentIntent's `metadata.payment_order_id` is the
/// order (the Stripe adapter sets it on create); its `id` (`pi_...`) is the PSP reference.
/// Mapping (psp-edge.md section 2): succeeded -> SUCCESSFUL; payment_failed -> FAILED with
/// `last_payment_error`'s decline code (else its code); processing -> PENDING; canceled ->
/// FAILED (`canceled`, with the cancellation reason). Other types are acknowledged and ignored.
///
/// Refund events (`refund.created`, `refund.updated`, `refund.failed`) carry a Refund whose
/// `metadata.refund_id` names paynode's refund (the Stripe adapter sets it); its status maps as
/// the adapter reads it (succeeded, failed/canceled, else PENDING). A refund made outside
/// paynode (no `refund_id`) is acknowledged and ignored.
public enum StripeWebhookEvent {
    public static let orderMetadataKey = "payment_order_id"
    public static let refundMetadataKey = "refund_id"

    /// `nowMilliseconds` stands in for an event without a readable `created`.
    public static func interpret(_ body: some Collection<UInt8>, nowMilliseconds: Int64) -> WebhookInterpretation {
        guard let event = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            return .malformed("the body is not a JSON object")
        }
        guard let id = event["id"] as? String, !id.isEmpty, let type = event["type"] as? String else {
            return .malformed("the event has no id or type")
        }
        guard type.hasPrefix("payment_intent.") || type.hasPrefix("refund.") else { return .ignored(type) }
        guard let object = (event["data"] as? [String: Any])?["object"] as? [String: Any] else {
            return .malformed("event \(id) has no data.object")
        }
        let created = (event["created"] as? NSNumber)?.int64Value ?? 0
        // Seconds from Stripe; a nonsense value must not trap the multiplication.
        let (milliseconds, overflow) = created.multipliedReportingOverflow(by: 1000)
        let eventTime = overflow || created <= 0 ? nowMilliseconds : milliseconds
        if type.hasPrefix("refund.") { return refundResult(object, type: type, eventId: id, eventTime: eventTime) }
        let status: PspStatus
        var errorCode: String?
        var errorMessage: String?
        switch type {
        case "payment_intent.succeeded":
            status = .successful
        case "payment_intent.processing":
            status = .pending
        case "payment_intent.payment_failed":
            status = .failed
            let error = object["last_payment_error"] as? [String: Any]
            errorCode = (error?["decline_code"] as? String) ?? (error?["code"] as? String) ?? "payment_failed"
            errorMessage = error?["message"] as? String
        case "payment_intent.canceled":
            status = .failed
            errorCode = "canceled"
            errorMessage = (object["cancellation_reason"] as? String).map { "canceled: \($0)" }
        default:
            return .ignored(type)
        }
        let orderId = ((object["metadata"] as? [String: Any])?[orderMetadataKey] as? String) ?? ""
        return .results([ReportedPspResult(paymentOrderId: orderId, status: status, pspReference: object["id"] as? String,
                                           eventTimeMilliseconds: eventTime,
                                           errorCode: errorCode, errorMessage: errorMessage, psp: "stripe", pspEventId: id)])
    }

    private static func refundResult(_ refund: [String: Any], type: String, eventId: String, eventTime: Int64) -> WebhookInterpretation {
        let metadata = refund["metadata"] as? [String: Any]
        guard let refundId = metadata?[refundMetadataKey] as? String, !refundId.isEmpty else {
            return .ignored("\(type) of a refund paynode did not make")
        }
        let status: PspStatus
        var errorCode: String?
        var errorMessage: String?
        switch refund["status"] as? String {
        case "succeeded":
            status = .successful
        case "failed":
            status = .failed
            errorCode = (refund["failure_reason"] as? String) ?? "refund_failed"
            errorMessage = "Stripe could not complete the refund"
        case "canceled":
            status = .failed
            errorCode = "canceled"
            errorMessage = "the refund was canceled"
        default:
            status = .pending
        }
        let orderId = (metadata?[orderMetadataKey] as? String) ?? RefundID(refundId)?.paymentOrderID.description ?? ""
        return .results([ReportedPspResult(paymentOrderId: orderId, status: status, pspReference: refund["id"] as? String,
                                           eventTimeMilliseconds: eventTime, errorCode: errorCode, errorMessage: errorMessage,
                                           psp: "stripe", pspEventId: eventId, refundId: refundId)])
    }
}

/// Adyen standard webhooks (docs.adyen.com/development-resources/webhooks): `{"live":"false",
/// "notificationItems":[{"NotificationRequestItem":{...}}]}`. Each item is verified on its own
/// (its `additionalData.hmacSignature` over eight of its fields); `merchantReference` is the
/// order (the Adyen adapter sends the order id as `reference`). AUTHORISATION with success
/// "true" -> SUCCESSFUL, "false" -> FAILED (`refused`, with Adyen's `reason`). REFUND (whose
/// `merchantReference` is the refund id the adapter sent, `pspReference` the refund's and
/// `originalReference` the payment's) with success "true" -> the refund SUCCESSFUL, "false" ->
/// FAILED (`refund_failed`), as is REFUND_FAILED. Other event codes (captures, ...) are
/// acknowledged and ignored.
public enum AdyenNotification {
    /// One notification item as it arrived: the signed fields, its signature and the rest.
    public struct Received: Sendable, Hashable {
        public var item: AdyenWebhookVerifier.Item
        public var signature: String?
        public var reason: String?
        /// `eventDate` (ISO 8601) in ms since the epoch, or nil when absent or unreadable.
        public var eventTimeMilliseconds: Int64?
    }

    /// The items of a notification body, in order; nil with a reason when it is not one.
    public static func parse(_ body: some Collection<UInt8>, maximumItems: Int = 1000) -> Result<[Received], WebhookParseError> {
        guard let root = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
              let wrapped = root["notificationItems"] as? [Any] else {
            return .failure(WebhookParseError(message: "the body is not an Adyen notification (no notificationItems)"))
        }
        guard !wrapped.isEmpty, wrapped.count <= maximumItems else {
            return .failure(WebhookParseError(message: "a notification carries 1 to \(maximumItems) items, not \(wrapped.count)"))
        }
        var items: [Received] = []
        for (index, element) in wrapped.enumerated() {
            guard let fields = (element as? [String: Any])?["NotificationRequestItem"] as? [String: Any] else {
                return .failure(WebhookParseError(message: "notification item \(index) has no NotificationRequestItem"))
            }
            func text(_ key: String) -> String {
                if let value = fields[key] as? String { return value }
                if let value = fields[key] as? NSNumber { return value.stringValue }
                return ""
            }
            let amount = fields["amount"] as? [String: Any]
            let value = (amount?["value"] as? NSNumber)?.stringValue ?? (amount?["value"] as? String) ?? ""
            // `success` is the string "true"/"false"; a JSON boolean is read the same way.
            let success = (fields["success"] as? Bool).map { $0 ? "true" : "false" } ?? text("success")
            let additional = fields["additionalData"] as? [String: Any]
            let item = AdyenWebhookVerifier.Item(pspReference: text("pspReference"), originalReference: text("originalReference"),
                                                 merchantAccountCode: text("merchantAccountCode"), merchantReference: text("merchantReference"),
                                                 value: value, currency: (amount?["currency"] as? String) ?? "", eventCode: text("eventCode"),
                                                 success: success)
            let reason = text("reason")
            items.append(Received(item: item, signature: additional?["hmacSignature"] as? String, reason: reason.isEmpty ? nil : reason,
                                  eventTimeMilliseconds: (fields["eventDate"] as? String).flatMap(Self.milliseconds(iso8601:))))
        }
        return .success(items)
    }

    /// What verified items report. `now` stands in for an item without a readable `eventDate`.
    public static func interpret(_ items: [Received], nowMilliseconds: Int64) -> WebhookInterpretation {
        var results: [ReportedPspResult] = []
        var ignored: [String] = []
        for received in items {
            let item = received.item
            if item.eventCode == "REFUND" || item.eventCode == "REFUND_FAILED" {
                let succeeded = item.eventCode == "REFUND" && item.success == "true"
                results.append(ReportedPspResult(
                    paymentOrderId: RefundID(item.merchantReference)?.paymentOrderID.description ?? item.merchantReference,
                    status: succeeded ? .successful : .failed, pspReference: item.pspReference.isEmpty ? nil : item.pspReference,
                    eventTimeMilliseconds: received.eventTimeMilliseconds ?? nowMilliseconds,
                    errorCode: succeeded ? nil : "refund_failed", errorMessage: succeeded ? nil : received.reason,
                    psp: "adyen", pspEventId: item.eventID, refundId: item.merchantReference))
                continue
            }
            guard item.eventCode == "AUTHORISATION" else {
                ignored.append(item.eventCode)
                continue
            }
            let succeeded = item.success == "true"
            results.append(ReportedPspResult(paymentOrderId: item.merchantReference, status: succeeded ? .successful : .failed,
                                             pspReference: item.pspReference.isEmpty ? nil : item.pspReference,
                                             eventTimeMilliseconds: received.eventTimeMilliseconds ?? nowMilliseconds,
                                             errorCode: succeeded ? nil : "refused", errorMessage: succeeded ? nil : received.reason,
                                             psp: "adyen", pspEventId: item.eventID))
        }
        return results.isEmpty ? .ignored(ignored.joined(separator: ",")) : .results(results)
    }

    static func milliseconds(iso8601 text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var date = formatter.date(from: text)
        if date == nil {
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            date = formatter.date(from: text)
        }
        guard let date else { return nil }
        let milliseconds = date.timeIntervalSince1970 * 1000
        guard milliseconds.isFinite, milliseconds > 0, milliseconds < 1e15 else { return nil }
        return Int64(milliseconds)
    }
}

public struct WebhookParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
