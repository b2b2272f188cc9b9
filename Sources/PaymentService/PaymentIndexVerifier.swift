import LogStore
import Payments

/// Checks that the payment state's derived tables agree with `orders`: every order has exactly
/// one `orders_by_status` entry, under its status; no index entry names a missing order or a
/// different status; `order_status_counts` holds the true count per status. They are written
/// in the same transactions as the states, so any disagreement is a bug or a damaged store,
/// and `GET /v1/payment-orders?status=` or the `paynode_payment_orders` gauge would show it.
/// Read-only; two passes (orders, then the index), nothing held per order.
public struct PaymentIndexVerifier: Sendable {
    public struct Report: Sendable {
        public var orders = 0
        public var indexEntries = 0
        /// The first problems found, at most `problemLimit` of them.
        public var problems: [String] = []
        /// All problems, including those not listed.
        public var problemCount = 0
        public var isConsistent: Bool { problemCount == 0 }
    }

    public static let problemLimit = 20

    public static func verify(_ store: LogStore) throws -> Report {
        try store.read { try verify(in: $0) }
    }

    public static func verify(in transaction: ReadTransaction) throws -> Report {
        var report = Report()
        func problem(_ text: String) {
            report.problemCount += 1
            if report.problems.count < problemLimit { report.problems.append(text) }
        }
        let orders = transaction.table(PaymentTables.orders)
        let index = transaction.table(OrderStatusIndex.table)
        var counted: [PaymentStatus: Int64] = [:]
        try orders?.forEach(from: []) { key, value in
            report.orders += 1
            let id = Array(key)
            guard id.count == 16 else {
                problem("orders holds a key of \(id.count) bytes (\(AuditLog.hex(id))); order ids are 16 bytes")
                return true
            }
            guard let state = PaymentOrderState(decoding: value) else {
                problem("order \(AuditLog.hex(id)): its state (\(value.count) bytes) does not decode")
                return true
            }
            counted[state.status, default: 0] += 1
            if try index?.get(OrderStatusIndex.key(state.status, id)) == nil {
                problem("order \(AuditLog.hex(id)) is \(state.status.rawValue) but has no \(OrderStatusIndex.table) entry for it")
            }
            return true
        }
        try index?.forEach(from: []) { key, _ in
            report.indexEntries += 1
            let entry = Array(key)
            guard entry.count == OrderStatusIndex.keySize, let status = OrderStatusIndex.status(ofByte: entry[0]) else {
                problem("\(OrderStatusIndex.table) holds a malformed key \(AuditLog.hex(entry))")
                return true
            }
            let id = Array(entry[1...])
            guard let stored = try orders?.get(id) else {
                problem("\(OrderStatusIndex.table) lists order \(AuditLog.hex(id)) as \(status.rawValue), but there is no such order")
                return true
            }
            if let state = PaymentOrderState(decoding: stored), state.status != status {
                problem("\(OrderStatusIndex.table) lists order \(AuditLog.hex(id)) as \(status.rawValue), but it is \(state.status.rawValue)")
            }
            return true
        }
        if let stored = try OrderStatusCounts.read(in: transaction) {
            for status in PaymentStatus.allCases where stored[status, default: 0] != counted[status, default: 0] {
                problem("\(OrderStatusCounts.table) says \(stored[status, default: 0]) \(status.rawValue), the orders hold \(counted[status, default: 0])")
            }
        } else if report.orders > 0 {
            problem("\(OrderStatusCounts.table) is missing while there are \(report.orders) orders")
        }
        return report
    }
}
