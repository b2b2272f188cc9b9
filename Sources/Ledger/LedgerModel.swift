import Crypto
import Foundation

/// A ledger account: whose money, in which currency. Every transfer is between two accounts of
/// the same currency (double entry), so balances are per currency and never mixed.
///
/// - `merchant`: a merchant's wallet, credit-normal: payments credit it, refunds debit it.
/// - `psp`: a PSP's clearing account, debit-normal: what the PSP holds for paynode's merchants
///   (it collected the payment and owes it until settlement).
///
/// Spelled `<kind>:<CUR>:<owner>`, the owner last so that any merchant id (which may hold
/// colons) reads back: `merchant:EUR:m_1`, `psp:EUR:stripe`.
public struct AccountID: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case merchant
        case psp
    }

    public let kind: Kind
    public let currency: String
    public let owner: String

    public init?(kind: Kind, currency: String, owner: String) {
        guard Self.isCurrency(currency), !owner.isEmpty, owner.utf8.count <= 255 else { return nil }
        self.kind = kind
        self.currency = currency
        self.owner = owner
    }

    public init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let kind = Kind(rawValue: String(parts[0])) else { return nil }
        self.init(kind: kind, currency: String(parts[1]), owner: String(parts[2]))
    }

    public var description: String { "\(kind.rawValue):\(currency):\(owner)" }

    /// The store key: SHA-256 of the text, so that any owner fits an LMDB key.
    public var storeKey: [UInt8] { Array(SHA256.hash(data: Array(description.utf8))) }

    /// Whether a debit leaves it with more (a PSP's clearing account) rather than less.
    public var isDebitNormal: Bool { kind == .psp }

    public static func merchant(_ merchant: String, currency: String) -> AccountID? {
        AccountID(kind: .merchant, currency: currency, owner: merchant)
    }

    public static func psp(_ psp: String, currency: String) -> AccountID? {
        AccountID(kind: .psp, currency: currency, owner: psp)
    }

    static func isCurrency(_ text: String) -> Bool {
        text.utf8.count == 3 && text.utf8.allSatisfy { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }
    }

    public static func < (lhs: AccountID, rhs: AccountID) -> Bool { lhs.description < rhs.description }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = AccountID(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an account id: \(text)"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Where an event came from in the log: the transfer's provenance.
public struct EventSource: Sendable, Hashable, Codable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64

    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// One money movement a `payment-events` record asks for.
public struct TransferRequest: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// A SUCCESSFUL payment: the PSP's clearing account owes the merchant.
        case payment
        /// A SUCCESSFUL refund: the merchant gives back, the PSP's clearing account pays out.
        case refund
    }

    /// Derived from the event, so a redelivered event names the same transfer: `payment:<order id>`
    /// (an order succeeds once) or `refund:<refund id>` (a refund succeeds once).
    public var id: String
    public var kind: Kind
    public var debit: AccountID
    public var credit: AccountID
    public var amount: Int64
    public var paymentOrderId: String
    public var refundId: String?
    public var merchantId: String
    public var psp: String
    public var pspReference: String?
    /// When the payment or refund succeeded (ms since the epoch), as the event says.
    public var occurredAt: Int64
    public var source: EventSource

    public var currency: String { debit.currency }

    /// What makes two requests "the same transfer": the movement, not where or when it was read.
    public var contentHash: [UInt8] {
        var text = "\(kind.rawValue)\u{0}\(debit)\u{0}\(credit)\u{0}\(amount)\u{0}\(paymentOrderId)\u{0}\(refundId ?? "")"
        text += "\u{0}\(merchantId)\u{0}\(psp)\u{0}\(pspReference ?? "")"
        return Array(SHA256.hash(data: Array(text.utf8)).prefix(16))
    }
}

/// An account's totals. Balances are derived, never stored apart from the totals they come from.
public struct AccountBalance: Sendable, Hashable {
    public var debits: Int64 = 0
    public var credits: Int64 = 0
    /// Refunds waiting for this account to have enough (`held` transfers that debit it).
    public var held: Int64 = 0
    public var entries: UInt64 = 0

    public init(debits: Int64 = 0, credits: Int64 = 0, held: Int64 = 0, entries: UInt64 = 0) {
        self.debits = debits
        self.credits = credits
        self.held = held
        self.entries = entries
    }

    /// The balance in the account's normal direction: credits - debits for a wallet.
    public func balance(of account: AccountID) -> Int64 {
        let (difference, overflow) = account.isDebitNormal ? debits.subtractingReportingOverflow(credits)
            : credits.subtractingReportingOverflow(debits)
        return overflow ? (difference < 0 ? .max : .min) : difference
    }

    /// version 1, debits, credits, held, entries: 33 bytes, big-endian.
    static let storedSize = 1 + 8 * 4

    func encoded() -> [UInt8] {
        var bytes: [UInt8] = [1]
        bytes.reserveCapacity(Self.storedSize)
        for value in [UInt64(bitPattern: debits), UInt64(bitPattern: credits), UInt64(bitPattern: held), entries] {
            withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    init?(decoding bytes: [UInt8]) {
        guard bytes.count == Self.storedSize, bytes[0] == 1 else { return nil }
        func read(_ index: Int) -> UInt64 { bytes[(1 + 8 * index)..<(9 + 8 * index)].reduce(0) { $0 << 8 | UInt64($1) } }
        self.init(debits: Int64(bitPattern: read(0)), credits: Int64(bitPattern: read(1)), held: Int64(bitPattern: read(2)), entries: read(3))
        guard debits >= 0, credits >= 0, held >= 0 else { return nil }
    }
}
