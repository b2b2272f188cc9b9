/// The hot part of a payment order as the consumer keeps it: status and, per PSP status, the
/// content hash of the result seen (0: none). Idempotency is folded into this small record, so
/// processing a result writes one fixed-size record instead of a separate idempotency table
/// (lmdb.md measured 1.2-1.4x for that).
public struct PaymentOrderState: Sendable, Hashable {
    /// The one layout (49 bytes): version, status, the three seen hashes, the result count, the
    /// update time, and the amount and currency the terminal event needs, so a transition never
    /// reads the cold details. Version 2 because a development layout without the amount came
    /// first; no release wrote it, so nothing reads it (docs/operations.md, "Upgrades").
    public static let storedSize = 1 + 1 + 3 * 8 + 4 + 8 + 8 + 3
    static let storedVersion: UInt8 = 2

    public var status: PaymentStatus
    public var seenPending: UInt64 = 0
    public var seenSuccessful: UInt64 = 0
    public var seenFailed: UInt64 = 0
    /// Results recorded for this order (applied or not).
    public var resultCount: UInt32 = 0
    public var updatedAtMilliseconds: Int64
    /// Amount in minor units and ISO 4217 currency (three letters, as the API validated it).
    public var amountMinor: Int64
    public var currency: String

    public init(status: PaymentStatus = .pending, updatedAtMilliseconds: Int64, amountMinor: Int64, currency: String) {
        self.status = status
        self.updatedAtMilliseconds = updatedAtMilliseconds
        self.amountMinor = amountMinor
        self.currency = currency
    }

    func seen(_ status: PspStatus) -> UInt64 {
        switch status {
        case .pending: seenPending
        case .successful: seenSuccessful
        case .failed: seenFailed
        }
    }

    mutating func markSeen(_ status: PspStatus, hash: UInt64) {
        switch status {
        case .pending: seenPending = hash
        case .successful: seenSuccessful = hash
        case .failed: seenFailed = hash
        }
    }

    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = [Self.storedVersion, Self.code(status)]
        bytes.reserveCapacity(Self.storedSize)
        for value in [seenPending, seenSuccessful, seenFailed] { append(value, to: &bytes) }
        append(resultCount, to: &bytes)
        append(UInt64(bitPattern: updatedAtMilliseconds), to: &bytes)
        append(UInt64(bitPattern: amountMinor), to: &bytes)
        let currencyBytes = Array(currency.utf8.prefix(3))
        bytes += currencyBytes + [UInt8](repeating: 0, count: 3 - currencyBytes.count)
        return bytes
    }

    /// nil for anything but this layout: another size or version, an unknown status, a
    /// negative amount or an empty currency (a damaged store, never guessed at).
    public init?(decoding bytes: some Collection<UInt8>) {
        guard bytes.count == Self.storedSize else { return nil }
        let decoded: PaymentOrderState? = bytes.withContiguousStorageIfAvailable { Self.decode($0) } ?? Self.decode(Array(bytes))
        guard let decoded else { return nil }
        self = decoded
    }

    private static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> PaymentOrderState? {
        guard bytes[0] == storedVersion, let status = status(bytes[1]) else { return nil }
        func read(_ offset: Int, _ count: Int) -> UInt64 { bytes[offset..<offset + count].reduce(0) { $0 << 8 | UInt64($1) } }
        let amount = Int64(bitPattern: read(38, 8))
        let currencyBytes = bytes[46..<49].prefix { $0 != 0 }
        guard amount >= 0, !currencyBytes.isEmpty else { return nil }
        var state = PaymentOrderState(status: status, updatedAtMilliseconds: Int64(bitPattern: read(30, 8)), amountMinor: amount,
                                      currency: String(decoding: currencyBytes, as: UTF8.self))
        state.seenPending = read(2, 8)
        state.seenSuccessful = read(10, 8)
        state.seenFailed = read(18, 8)
        state.resultCount = UInt32(read(26, 4))
        return state
    }

    private static func decode(_ bytes: [UInt8]) -> PaymentOrderState? {
        bytes.withUnsafeBufferPointer { decode($0) }
    }

    private func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    private static func code(_ status: PaymentStatus) -> UInt8 {
        switch status {
        case .pending: 0
        case .successful: 1
        case .failed: 2
        }
    }

    private static func status(_ code: UInt8) -> PaymentStatus? {
        switch code {
        case 0: .pending
        case 1: .successful
        case 2: .failed
        default: nil
        }
    }
}

/// What processing one PSP result did to its order.
public enum ResultOutcome: String, Sendable, Hashable, CaseIterable, Codable {
    /// A state transition: PENDING became SUCCESSFUL or FAILED.
    case applied
    /// A PENDING result for a PENDING order: recorded, no transition.
    case recorded
    /// The same result again (same status and content): nothing changes.
    case duplicate
    /// A PENDING result arriving after the order became terminal (delivered out of order).
    case stale
    /// A result contradicting what is recorded: not applied, kept for reconciliation.
    case conflict
}

public struct ProcessingDecision: Sendable, Hashable {
    public var outcome: ResultOutcome
    public var state: PaymentOrderState
    /// The terminal status to announce on `payment-events` (only for `.applied`).
    public var emitted: PaymentStatus?
    public var reason: String
}

/// `ProcessPaymentService.processPspResult`'s decision, as a pure function: the only place that
/// decides payment state transitions. The rules follow what the best payment systems converged
/// on (shared notes, payments.md): terminal states are sticky; a result's idempotency key is the
/// order plus the result's status, and its content (reference, error, PSP event id) tells a
/// duplicate (same content) from a conflict (different content).
public enum ProcessPaymentRules {
    public static func decide(_ state: PaymentOrderState, _ result: PspResult, nowMilliseconds: Int64) -> ProcessingDecision {
        let hash = result.contentHash
        var next = state
        let previous = state.seen(result.status)
        if previous != 0 {
            if previous == hash {
                return ProcessingDecision(outcome: .duplicate, state: state, emitted: nil,
                                          reason: "the same \(result.status.rawValue) result was processed before")
            }
            next.resultCount &+= 1
            next.updatedAtMilliseconds = nowMilliseconds
            return ProcessingDecision(outcome: .conflict, state: next, emitted: nil,
                                      reason: "a different \(result.status.rawValue) result was recorded before")
        }
        next.markSeen(result.status, hash: hash)
        next.resultCount &+= 1
        next.updatedAtMilliseconds = nowMilliseconds
        switch (state.status, result.status) {
        case (.pending, .pending):
            return ProcessingDecision(outcome: .recorded, state: next, emitted: nil, reason: "the PSP reports the payment as pending")
        case (.pending, .successful):
            next.status = .successful
            return ProcessingDecision(outcome: .applied, state: next, emitted: .successful, reason: "PENDING -> SUCCESSFUL")
        case (.pending, .failed):
            next.status = .failed
            return ProcessingDecision(outcome: .applied, state: next, emitted: .failed, reason: "PENDING -> FAILED")
        case (_, .pending):
            return ProcessingDecision(outcome: .stale, state: next, emitted: nil,
                                      reason: "a PENDING result arrived after the order became \(state.status.rawValue)")
        case (.successful, .failed), (.failed, .successful):
            return ProcessingDecision(outcome: .conflict, state: next, emitted: nil,
                                      reason: "\(result.status.rawValue) contradicts the terminal status \(state.status.rawValue)")
        case (.successful, .successful), (.failed, .failed):
            // Unreachable: the terminal status's own result is always recorded as seen.
            return ProcessingDecision(outcome: .duplicate, state: state, emitted: nil, reason: "already \(state.status.rawValue)")
        }
    }
}
