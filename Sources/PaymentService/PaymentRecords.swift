import Crypto
import Foundation
import LogStore
import Payments

/// The cold part of an order, written once at creation. The terminal fields are in the order's
/// applied history entry (its audit entry), not here.
struct OrderDetails: Codable, Sendable, Hashable {
    var paymentOrderId: String
    var merchantId: String
    var amount: Int64
    var currency: String
    var paymentMethod: String
    var psp: String
    var idempotencyKey: String
    var traceId: String?
    var createdAt: Int64
}

/// One PSP result seen for an order, with what it did and where it came from.
public struct HistoryEntry: Codable, Sendable, Hashable {
    public var pspStatus: String
    public var outcome: ResultOutcome
    public var reason: String
    public var pspReference: String?
    public var errorCode: String?
    public var errorMessage: String? = nil
    public var eventTime: Int64
    public var processedAt: Int64
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var traceId: String?
    /// Set on a refund's results: which refund.
    public var refundId: String? = nil
}

extension HistoryEntry {
    /// The history row an audit entry stands for; nil for dead letters (not an order's history)
    /// and for outcomes this release does not know.
    init?(auditEntry entry: AuditLog.Entry) {
        guard let outcome = ResultOutcome(rawValue: entry.outcome), let pspStatus = entry.pspStatus else { return nil }
        self.init(pspStatus: pspStatus, outcome: outcome, reason: entry.reason, pspReference: entry.pspReference,
                  errorCode: entry.errorCode, errorMessage: entry.errorMessage, eventTime: entry.eventTime ?? 0,
                  processedAt: entry.time, topic: entry.sourceTopic, partition: entry.sourcePartition, offset: entry.sourceOffset,
                  traceId: entry.traceId, refundId: entry.refundId)
    }
}

/// An Idempotency-Key's record as this release writes it (57 bytes): a format byte, the SHA-256
/// of the canonical request, the order the key created and its creation time. The 201 reply is
/// not stored: it is the order's JSON at creation, rebuilt from its details (written once, at
/// creation) when the key comes again (storing the reply as JSON cost ~850 bytes and a JSON
/// encoding per order).
struct IdempotencyRecord: Sendable, Hashable {
    static let format: UInt8 = 0xB1
    /// Where each field starts: format byte, hash, order id (16 bytes), creation time (8 bytes).
    private static let hashStart = 1, idStart = hashStart + SHA256.byteCount, timeStart = idStart + 16
    static let size = timeStart + 8

    var requestHash: [UInt8]
    var paymentOrderId: PaymentOrderID
    var createdAt: Int64

    init(canonicalRequest: String, paymentOrderId: PaymentOrderID, createdAt: Int64) {
        self.requestHash = Self.hash(canonicalRequest)
        self.paymentOrderId = paymentOrderId
        self.createdAt = createdAt
    }

    /// nil for anything but this layout.
    init?(decoding bytes: [UInt8]) {
        guard bytes.count == Self.size, bytes[0] == Self.format,
              let id = PaymentOrderID(bytes: Array(bytes[Self.idStart..<Self.timeStart])),
              let createdAt = Int64(bigEndianBytes: bytes[Self.timeStart...]) else { return nil }
        self.requestHash = Array(bytes[Self.hashStart..<Self.idStart])
        self.paymentOrderId = id
        self.createdAt = createdAt
    }

    static func hash(_ canonicalRequest: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(canonicalRequest.utf8)))
    }

    /// The record's key in `idempotency_keys`: SHA-256 of the merchant id, then the client's key.
    /// Keys are scoped per merchant, as a PSP scopes them per account: two merchants may use the
    /// same key, and one merchant's key tells nothing about another's. The merchant is hashed so
    /// the key has a fixed prefix and stays within LMDB's 511 bytes (32 + at most 255) whatever
    /// the merchant id's length.
    static func tableKey(merchantId: String, idempotencyKey: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(merchantId.utf8))) + Array(idempotencyKey.utf8)
    }

    func encoded() -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(Self.size)
        bytes.append(Self.format)
        bytes += requestHash
        bytes += paymentOrderId.bytes
        bytes += createdAt.bigEndianBytes
        return bytes
    }
}

/// Stored records that contradict each other (never expected: they are written together).
struct StoredRecordError: Error, CustomStringConvertible {
    var description: String
}

enum JSON {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(value))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}

/// The application tables the payment service keeps in the node's LMDB environment.
enum PaymentTables {
    /// 16-byte order id -> `PaymentOrderState` (hot, fixed size, overwritten in place).
    static let orders = "payments.orders"
    /// 16-byte order id -> `OrderDetails` JSON (written once, at creation).
    static let details = "payments.order_details"
    /// SHA-256(merchant id) + client Idempotency-Key (`IdempotencyRecord.tableKey`) ->
    /// `IdempotencyRecord` (57 bytes). An order's history is its audit entries (`AuditLog`),
    /// kept in no separate table.
    static let idempotency = "payments.idempotency_keys"
}

extension WriteTransaction {
    /// The partition count of a pipeline topic, which `ensureTopics` created at start.
    func existingPartitionCount(of topic: String) throws -> Int {
        try existingTopicPartitionCount(topic, partitionCount(of: topic))
    }
}

extension ReadTransaction {
    /// The partition count of a pipeline topic, which `ensureTopics` created at start.
    func existingPartitionCount(of topic: String) throws -> Int {
        try existingTopicPartitionCount(topic, describe(topic: topic)?.partitions.count)
    }
}

private func existingTopicPartitionCount(_ topic: String, _ partitionCount: Int?) throws -> Int {
    guard let partitionCount else { throw LogStoreError(.unknownTopicOrPartition, "topic \(topic) does not exist") }
    return partitionCount
}
