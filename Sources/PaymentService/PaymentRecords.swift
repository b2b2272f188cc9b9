import Foundation
import Payments

/// The cold part of an order, written once at creation and again when it becomes terminal.
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
    var pspReference: String?
    var errorCode: String?
    var errorMessage: String?
    var completedAt: Int64?
}

/// One PSP result seen for an order, with what it did and where it came from.
public struct HistoryEntry: Codable, Sendable, Hashable {
    public var pspStatus: String
    public var outcome: ResultOutcome
    public var reason: String
    public var pspReference: String?
    public var errorCode: String?
    public var eventTime: Int64
    public var processedAt: Int64
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var traceId: String?
}

/// A stored response for a client Idempotency-Key: replayed as it was for the same request.
struct StoredResponse: Codable, Sendable, Hashable {
    var requestHash: String
    var status: Int
    var body: String
    var createdAt: Int64
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

enum HistoryKeys {
    static func key(_ order: PaymentOrderID, sequence: UInt32) -> [UInt8] {
        order.bytes + withUnsafeBytes(of: sequence.bigEndian) { Array($0) }
    }
}
