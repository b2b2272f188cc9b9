import Foundation
import Payments

extension PaymentService {
    /// `GET /v1/payment-orders/{id}/audit`: `{"paymentOrderId":..., "entries":[...]}` with the
    /// order's audit entries in chain order (each with its hash), or nil for an unknown order.
    public func audit(_ text: String) throws -> String? {
        guard let id = PaymentOrderID(text) else { return nil }
        struct View: Encodable {
            var paymentOrderId: String
            var entries: [AuditLog.StoredEntry]
        }
        return try store.read { transaction -> String? in
            guard try transaction.table(PaymentTables.orders)?.get(id.bytes) != nil else { return nil }
            let view = View(paymentOrderId: id.description, entries: try AuditLog.entries(of: id, in: transaction))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try encoder.encode(view), as: UTF8.self)
        }
    }
}
