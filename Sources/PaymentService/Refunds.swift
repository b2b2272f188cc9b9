import Crypto
import Foundation
import LogStore
import PaymentEvents
import Payments

/// One refund as the service keeps it: what was asked, where it stands (the same state a
/// payment has, decided by the same rules), and what the PSP said. Refunds are few per order and
/// cold next to PSP results, so the record is JSON.
struct StoredRefund: Codable, Sendable, Hashable {
    var refundId: String
    var amount: Int64
    var currency: String
    var reason: String?
    var idempotencyKey: String
    /// SHA-256 (hex) of the request as the client sent it (`RefundRequest.canonical`).
    var requestSha256: String
    var status: PaymentStatus
    var createdAt: Int64
    var updatedAt: Int64
    /// The content hashes of the results seen per status (0: none), as bit patterns.
    var seenPending: Int64 = 0
    var seenSuccessful: Int64 = 0
    var seenFailed: Int64 = 0
    var resultCount: UInt32 = 0
    /// The PSP's id for the refund and, once FAILED, why: from the result that settled it.
    var pspReference: String?
    var errorCode: String?
    var errorMessage: String?
    var traceId: String?

    /// The refund's state in the payment rules' terms.
    var state: PaymentOrderState {
        get {
            var state = PaymentOrderState(status: status, updatedAtMilliseconds: updatedAt, amountMinor: amount, currency: currency)
            state.seenPending = UInt64(bitPattern: seenPending)
            state.seenSuccessful = UInt64(bitPattern: seenSuccessful)
            state.seenFailed = UInt64(bitPattern: seenFailed)
            state.resultCount = resultCount
            return state
        }
        set {
            status = newValue.status
            updatedAt = newValue.updatedAtMilliseconds
            seenPending = Int64(bitPattern: newValue.seenPending)
            seenSuccessful = Int64(bitPattern: newValue.seenSuccessful)
            seenFailed = Int64(bitPattern: newValue.seenFailed)
            resultCount = newValue.resultCount
        }
    }

    var amountAndStatus: RefundAmount { RefundAmount(amountMinor: amount, status: status) }

    /// The refund as the API shows it (sorted keys, absent fields left out).
    func encodedJSON() -> [UInt8] {
        var writer = JSONObjectWriter(capacity: 320)
        writer.add("amount", amount)
        writer.add("createdAt", createdAt)
        writer.add("currency", currency)
        writer.add("errorCode", errorCode)
        writer.add("errorMessage", errorMessage)
        writer.add("pspReference", pspReference)
        writer.add("reason", reason)
        writer.add("refundId", refundId)
        writer.add("status", status.rawValue)
        writer.add("updatedAt", updatedAt)
        return writer.finish()
    }
}

/// `payments.refunds`: 16-byte order id + u32 big-endian refund number -> `StoredRefund` JSON.
/// An order's refunds are one key range, read whole (at most `maximumRefundsPerOrder`).
enum RefundTable {
    static let name = "payments.refunds"

    static func key(_ id: RefundID) -> [UInt8] {
        id.paymentOrderID.bytes + UInt32(id.number).bigEndianBytes
    }

    /// The order's refunds in number order. A record that does not decode is a damaged store,
    /// never guessed at: the caller's request fails (or its result is dead-lettered) naming it.
    static func refunds(of order: PaymentOrderID, in table: (any TableReading)?) throws -> [StoredRefund] {
        guard let table else { return [] }
        var refunds: [StoredRefund] = []
        try table.forEach(from: order.bytes) { key, value in
            guard key.count == 20, key.starts(with: order.bytes) else { return false }
            do {
                refunds.append(try JSON.decode(StoredRefund.self, Array(value)))
            } catch {
                throw StoredRecordError(description: "refund record \(Array(key.suffix(4))) of order \(order) does not decode: \(error)")
            }
            return true
        }
        return refunds
    }

    static func decode(_ bytes: [UInt8], id: RefundID) throws -> StoredRefund {
        do {
            return try JSON.decode(StoredRefund.self, bytes)
        } catch {
            throw StoredRecordError(description: "the record of refund \(id) does not decode: \(error)")
        }
    }
}

/// The body of `POST /v1/payment-orders/{id}/refunds`: `{"amount": N, "reason": "..."}`, both
/// optional; without an amount the refund is for everything left to refund (as Stripe's).
public struct RefundRequest: Sendable, Hashable {
    public var amount: Int64?
    public var reason: String?

    public static let maximumReasonBytes = 255

    public static func parse(_ body: [UInt8]) throws(PaymentRequestError) -> RefundRequest {
        // An empty body is a full refund.
        guard body.contains(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) else { return RefundRequest() }
        let object: [String: JSONObjectReader.Value]
        do {
            object = try JSONObjectReader.members(of: body)
        } catch {
            throw PaymentRequestError(code: "invalid_json", message: "the body must be a JSON object: \(error)")
        }
        var request = RefundRequest()
        switch object["amount"] {
        case nil: break
        case .integer(let amount) where amount > 0: request.amount = amount
        default: throw PaymentRequestError(code: "invalid_amount", message: "amount must be an integer number of minor units greater than 0")
        }
        switch object["reason"] {
        case nil: break
        case .string(let reason) where !reason.isEmpty && reason.utf8.count <= maximumReasonBytes: request.reason = reason
        default:
            throw PaymentRequestError(code: "invalid_reason", message: "reason must be a string of 1 to \(maximumReasonBytes) bytes")
        }
        return request
    }

    /// What identifies the request for its Idempotency-Key: the fields as sent.
    var canonical: String {
        "amount=\(amount.map(String.init) ?? "-");reason=\(reason?.utf8.count ?? 0):\(reason ?? "")"
    }
}

/// What `PaymentService.createRefund` did.
public enum CreateRefundOutcome: Sendable, Hashable {
    /// Stored (PENDING) with its `RefundRequested` record; the refund's JSON.
    case created(refund: String)
    /// The key was used before on this order with the same request: that refund's JSON now.
    case replayed(refund: String)
    case invalid(PaymentRequestError)
    case idempotencyKeyReused(key: String)
    /// No order with this id that the caller may see.
    case notFound
    /// The rules refuse it (`RefundRules`).
    case refused(RefundRefusal)
}

extension PaymentService {
    /// `POST /v1/payment-orders/{id}/refunds`: validates, then in one transaction checks the
    /// order is SUCCESSFUL and the amount is at most what is left to refund, and stores the
    /// refund (PENDING) with its `RefundRequested` record for the executor. The Idempotency-Key
    /// is scoped to the order: the same key with the same request answers the refund it made,
    /// with another request it is refused.
    public func createRefund(order text: String, body: [UInt8], idempotencyKey: String?, traceparent: String?,
                             merchant: String? = nil) async throws -> CreateRefundOutcome {
        let key: String
        do throws(PaymentRequestError) {
            key = try Self.validatedIdempotencyKey(idempotencyKey)
        } catch {
            return .invalid(error)
        }
        let request: RefundRequest
        do {
            request = try RefundRequest.parse(body)
        } catch {
            return .invalid(error)
        }
        guard let id = PaymentOrderID(text) else { return .notFound }
        let orderKey = id.description
        let (span, traceContext) = instrumentation.startOrderSend(orderId: orderKey, traceparent: traceparent)
        defer { span.end() }
        let requestHash = AuditLog.hex(Array(SHA256.hash(data: Array(request.canonical.utf8))))
        let now = currentMilliseconds()
        let maximumRefunds = maximumRefundsPerOrder
        let outcome: CreateRefundOutcome
        do {
            outcome = try await store.write { transaction in
                guard let stateBytes = try transaction.table(PaymentTables.orders).get(id.bytes),
                      let state = PaymentOrderState(decoding: stateBytes),
                      let detailBytes = try transaction.table(PaymentTables.details).get(id.bytes) else { return .notFound }
                let details = try JSON.decode(OrderDetails.self, detailBytes)
                if let merchant, details.merchantId != merchant { return .notFound }
                let table = try transaction.table(RefundTable.name)
                let refunds = try RefundTable.refunds(of: id, in: table)
                if let earlier = refunds.first(where: { $0.idempotencyKey == key }) {
                    guard earlier.requestSha256 == requestHash else { return .idempotencyKeyReused(key: key) }
                    return .replayed(refund: String(decoding: earlier.encodedJSON(), as: UTF8.self))
                }
                let amounts = refunds.map(\.amountAndStatus)
                let amount = request.amount ?? RefundRules.refundable(orderAmountMinor: state.amountMinor, refunds: amounts)
                if let refusal = RefundRules.refusal(orderStatus: state.status, orderAmountMinor: state.amountMinor, refunds: amounts,
                                                     amountMinor: max(1, amount), maximumRefunds: maximumRefunds) {
                    return .refused(refusal)
                }
                let number = refunds.compactMap { RefundID($0.refundId)?.number }.max().map { $0 + 1 } ?? 1
                guard let refundID = RefundID(paymentOrderID: id, number: number) else { return .refused(.tooManyRefunds(limit: RefundID.maximumNumber)) }
                let paymentReference = try Self.terminalEntry(of: id, orderIndex: transaction.table(AuditLog.byOrder),
                                                              log: transaction.table(AuditLog.table))?.pspReference
                let refund = StoredRefund(refundId: refundID.description, amount: amount, currency: state.currency, reason: request.reason,
                                          idempotencyKey: key, requestSha256: requestHash, status: .pending, createdAt: now, updatedAt: now,
                                          traceId: traceContext.traceIDHex)
                try table.put(RefundTable.key(refundID), JSON.encode(refund))
                var requested = Paynode_Events_V1_RefundRequested()
                requested.refundID = refund.refundId
                requested.paymentOrderID = orderKey
                requested.amountMinor = amount
                requested.currency = state.currency
                requested.psp = details.psp
                if let paymentReference { requested.paymentPspReference = paymentReference }
                requested.requestedAtUnixMs = now
                requested.idempotencyKey = key
                if let reason = request.reason { requested.reason = reason }
                try self.appendEvent(requested, key: orderKey, topic: PaymentTopics.paymentOrders, traceContext: traceContext,
                                     transaction: transaction)
                return .created(refund: String(decoding: refund.encodedJSON(), as: UTF8.self))
            }
        } catch {
            instrumentation.orderCreationFailed(error, span: span)
            throw error
        }
        instrumentation.refundRequestEnded(outcome, span: span)
        return outcome
    }

    /// The Idempotency-Key header as the API takes it: 1 to 255 UTF-8 bytes.
    static func validatedIdempotencyKey(_ header: String?) throws(PaymentRequestError) -> String {
        guard let key = header, !key.isEmpty else {
            throw PaymentRequestError(code: "idempotency_key_missing", message: "the Idempotency-Key header is required (1 to 255 bytes)")
        }
        // Bytes, not Characters: the key is stored as its UTF-8 bytes (an LMDB key, at most 511
        // bytes), and 255 multi-byte characters would be up to 1020 of them.
        guard key.utf8.count <= maximumIdempotencyKeyBytes else {
            throw PaymentRequestError(
                code: "idempotency_key_too_long",
                message: "the Idempotency-Key header is \(key.utf8.count) bytes; at most \(maximumIdempotencyKeyBytes) bytes (UTF-8) are accepted")
        }
        return key
    }
}
