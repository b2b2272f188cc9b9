import Crypto
import _CryptoExtras

/// The hash a SCRAM mechanism is built on (RFC 5802 section 2.2's H, HMAC and Hi), over
/// swift-crypto: SHA-256 for SCRAM-SHA-256 (RFC 7677), SHA-512 for SCRAM-SHA-512.
public enum ScramHash: Sendable, Hashable {
    case sha256
    case sha512

    public var mechanism: SaslMechanism { self == .sha256 ? .scramSHA256 : .scramSHA512 }

    /// Bytes of one digest: the length of StoredKey, ServerKey and a proof.
    public var digestLength: Int { self == .sha256 ? 32 : 64 }

    public func hash(_ data: [UInt8]) -> [UInt8] {
        switch self {
        case .sha256: Array(SHA256.hash(data: data))
        case .sha512: Array(SHA512.hash(data: data))
        }
    }

    public func hmac(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        let key = SymmetricKey(data: key)
        switch self {
        case .sha256: return Array(HMAC<SHA256>.authenticationCode(for: data, using: key))
        case .sha512: return Array(HMAC<SHA512>.authenticationCode(for: data, using: key))
        }
    }

    /// Hi(password, salt, i): PBKDF2 with this hash's HMAC, one digest long. Iterations are
    /// bounded by the callers (stored credentials, the client's accepted range), so this never
    /// runs for an attacker-chosen count.
    public func saltedPassword(_ password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        let function: KDF.Insecure.PBKDF2.HashFunction = self == .sha256 ? .sha256 : .sha512
        do {
            let key = try KDF.Insecure.PBKDF2.deriveKey(from: password, salt: salt, using: function,
                                                        outputByteCount: digestLength, unsafeUncheckedRounds: max(1, iterations))
            return key.withUnsafeBytes { Array($0) }
        } catch {
            // BoringSSL refuses only impossible parameters; an all-zero key then matches nothing stored.
            return [UInt8](repeating: 0, count: digestLength)
        }
    }

    /// Equal-length comparison whose time does not depend on where the bytes differ.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
