#if canImport(Glibc)
import Glibc
#endif

/// A payment order id: a UUIDv7 (48-bit millisecond timestamp, version, counter and random
/// bits). Time-ordered ids keep the orders written and updated together in the same B-tree
/// pages (lmdb.md measured 3-4x more results/s than random UUIDv4 keys), and the 16-byte binary
/// form is the store key; the canonical text form is what the API and events carry.
public struct PaymentOrderID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Parses the 36-character canonical form (8-4-4-4-12 hex digits).
    public init?(_ text: String) {
        var text = text
        // Parsed in place from the string's UTF-8: this runs once per PSP result.
        let parsed: [UInt8]? = text.withUTF8 { utf8 in
            guard utf8.count == 36, utf8[8] == UInt8(ascii: "-"), utf8[13] == UInt8(ascii: "-"),
                  utf8[18] == UInt8(ascii: "-"), utf8[23] == UInt8(ascii: "-") else { return nil }
            var bytes = [UInt8](repeating: 0, count: 16)
            var position = 0
            for index in 0..<16 {
                if position == 8 || position == 13 || position == 18 || position == 23 { position += 1 }
                guard let high = Self.nibble(utf8[position]), let low = Self.nibble(utf8[position + 1]) else { return nil }
                bytes[index] = high << 4 | low
                position += 2
            }
            return bytes
        }
        guard let parsed else { return nil }
        bytes = parsed
    }

    /// A new id for `unixMilliseconds`; `sequence` orders ids made in the same millisecond.
    public static func make(unixMilliseconds: Int64, sequence: UInt16, random: UInt64) -> PaymentOrderID {
        var bytes = [UInt8](repeating: 0, count: 16)
        let time = UInt64(max(0, unixMilliseconds)) & 0xFFFF_FFFF_FFFF
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: time >> (40 - 8 * UInt64(index))) }
        // Version 7 in the high nibble of byte 6; 12 bits of sequence after it.
        bytes[6] = 0x70 | UInt8(truncatingIfNeeded: (sequence >> 8) & 0x0F)
        bytes[7] = UInt8(truncatingIfNeeded: sequence)
        // Variant 10 in the top bits of byte 8; the rest random.
        for index in 8..<16 { bytes[index] = UInt8(truncatingIfNeeded: random >> (8 * UInt64(15 - index))) }
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        return PaymentOrderID(bytes: bytes)!
    }

    public var unixMilliseconds: Int64 {
        bytes[0..<6].reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }

    public var description: String {
        // Written straight into the string's storage: this runs for every record key and log line.
        String(unsafeUninitializedCapacity: 36) { buffer in
            var position = 0
            for (index, byte) in bytes.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    buffer[position] = UInt8(ascii: "-")
                    position += 1
                }
                buffer[position] = Self.hexDigit(byte >> 4)
                buffer[position + 1] = Self.hexDigit(byte & 0x0F)
                position += 2
            }
            return position
        }
    }

    /// The hex digits of the bytes from `start` on, without dashes.
    public func hexDigits(from start: Int, uppercase: Bool = false) -> String {
        let digits = bytes[start...]
        return String(unsafeUninitializedCapacity: digits.count * 2) { buffer in
            var position = 0
            for byte in digits {
                buffer[position] = Self.hexDigit(byte >> 4, uppercase: uppercase)
                buffer[position + 1] = Self.hexDigit(byte & 0x0F, uppercase: uppercase)
                position += 2
            }
            return position
        }
    }

    /// Two 64-bit words instead of 16 hashed bytes: the consumer keys a dictionary by order id
    /// for every result of a batch.
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { raw in
            hasher.combine(raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
            hasher.combine(raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
    }

    public static func < (lhs: PaymentOrderID, rhs: PaymentOrderID) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8, uppercase: Bool = false) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : (uppercase ? UInt8(ascii: "A") : UInt8(ascii: "a")) + nibble - 10
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Makes strictly increasing ids within one process, even within one millisecond.
public struct PaymentOrderIDGenerator: Sendable {
    private var lastMilliseconds: Int64 = 0
    private var sequence: UInt16 = 0

    public init() {}

    public mutating func next(unixMilliseconds: Int64, random: UInt64) -> PaymentOrderID {
        if unixMilliseconds > lastMilliseconds {
            lastMilliseconds = unixMilliseconds
            sequence = 0
        } else if sequence < 0x0FFF {
            sequence += 1
        } else {
            // 4096 ids in one millisecond: borrow the next millisecond to stay ordered.
            lastMilliseconds += 1
            sequence = 0
        }
        return PaymentOrderID.make(unixMilliseconds: lastMilliseconds, sequence: sequence, random: random)
    }
}
