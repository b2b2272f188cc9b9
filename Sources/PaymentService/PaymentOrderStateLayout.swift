import Payments

/// How `PaymentOrderState` is stored in `payments.orders` (the storage floor's business, not the
/// payment rules'): one fixed-size big-endian record, read on every PSP result.
extension PaymentOrderState {
    /// The one layout (49 bytes): version, status, the three seen hashes, the result count, the
    /// update time, and the amount and currency the terminal event needs, so a transition never
    /// reads the cold details. Version 2 because a development layout without the amount came
    /// first; no release wrote it, so nothing reads it (docs/operations.md, "Upgrades").
    static let storedSize = 1 + 1 + 3 * 8 + 4 + 8 + 8 + 3
    static let storedVersion: UInt8 = 2

    func encoded() -> [UInt8] {
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
    init?(decoding bytes: some Collection<UInt8>) {
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
