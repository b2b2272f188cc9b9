import Crypto

/// The keyed hash a key is stored as: HMAC-SHA256 under the node's 32-byte secret. A fast
/// keyed hash rather than a password hash, because every request is checked and the keys are
/// long random strings, not guessable passwords (psp-edge.md section 6, after Hyperswitch).
public struct APIKeyHasher: @unchecked Sendable {
    /// Keyed once: each hash copies this value (the key's inner and outer pads already
    /// absorbed) instead of setting up the key again, a third of the cost. A value type that
    /// is only copied, never mutated in place, so sharing it between threads is safe.
    private let keyed: HMAC<SHA256>

    public init(secret: [UInt8]) { keyed = HMAC<SHA256>(key: SymmetricKey(data: secret)) }

    public func hash(_ key: APIKey) -> [UInt8] {
        var hmac = keyed
        hmac.update(data: Array(key.text.utf8))
        return Array(hmac.finalize())
    }

    /// Whether `key` hashes to `stored` (raw bytes, as `bytes(hex:)` decodes them once per
    /// cached record), in constant time.
    public func matches(_ key: APIKey, storedHash stored: [UInt8]) -> Bool {
        Self.constantTimeEqual(hash(key), stored)
    }

    public func hexHash(_ key: APIKey) -> String { Self.hex(hash(key)) }

    /// Whether `key` hashes to `storedHex`, comparing every byte whatever differs first, so
    /// the time taken says nothing about how much of a guess was right.
    public func matches(_ key: APIKey, storedHex: String) -> Bool {
        guard let stored = Self.bytes(hex: storedHex) else { return false }
        return Self.constantTimeEqual(hash(key), stored)
    }

    static func constantTimeEqual(_ left: [UInt8], _ right: [UInt8]) -> Bool {
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}
