import Crypto

/// Stripe's webhook signature check (docs.stripe.com/webhooks#verify-manually, as stripe-python's
/// `WebhookSignature.verify_header` does it): the `Stripe-Signature` header carries `t=<unix
/// seconds>` and one or more `v1=<hex>`; each v1 is HMAC-SHA256, keyed with the endpoint's whole
/// secret (`whsec_...` as UTF-8, prefix kept), over `"<t>.<raw body>"`. Any v1 matching any
/// configured secret verifies, which is how both Stripe's and our own secret rotation work.
/// Pure: the caller passes the raw body exactly as received (re-serialised JSON would not
/// verify) and the clock.
public struct StripeWebhookVerifier: Sendable {
    /// Why a webhook was not verified. None of them may be applied as a result.
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// No `t=` with a decimal timestamp, or a part without `=`.
        case malformedHeader
        /// The header has no `v1` signature (only `v0`, or none).
        case noSignature
        /// Older than the tolerance (stripe-python rejects only old timestamps; a clock ahead
        /// of ours is not a replay).
        case timestampOutsideTolerance(timestamp: Int64)
        /// No v1 matches any configured secret.
        case signatureMismatch

        public var description: String {
            switch self {
            case .malformedHeader: "the Stripe-Signature header is malformed"
            case .noSignature: "the Stripe-Signature header has no v1 signature"
            case .timestampOutsideTolerance(let timestamp): "the signature's timestamp \(timestamp) is outside the tolerance"
            case .signatureMismatch: "no v1 signature matches the endpoint's secrets"
            }
        }
    }

    /// The parts of a `Stripe-Signature` header this verifier uses.
    public struct Header: Sendable, Hashable {
        public var timestamp: Int64
        /// Every `v1` value, still hex (a malformed one simply never matches).
        public var signatures: [String]

        /// Splits on `,` then on the first `=`; keeps `t` and every `v1`, ignores the rest
        /// (`v0`, schemes Stripe may add). Bounded: at most `maximumParts` parts are read.
        public init(parsing text: String, maximumParts: Int = 64) throws(Failure) {
            var timestamp: Int64?
            var signatures: [String] = []
            for (index, part) in text.split(separator: ",", omittingEmptySubsequences: true).enumerated() {
                guard index < maximumParts else { throw .malformedHeader }
                guard let equals = part.firstIndex(of: "=") else { throw .malformedHeader }
                let name = part[..<equals].trimmingSpaces
                let value = part[part.index(after: equals)...].trimmingSpaces
                switch name {
                case "t":
                    guard timestamp == nil, let parsed = Int64(value), parsed >= 0 else { throw .malformedHeader }
                    timestamp = parsed
                case "v1":
                    signatures.append(String(value))
                default:
                    continue
                }
            }
            guard let timestamp else { throw .malformedHeader }
            guard !signatures.isEmpty else { throw .noSignature }
            self.timestamp = timestamp
            self.signatures = signatures
        }
    }

    /// The endpoint's signing secrets: the current one and any still accepted during rotation.
    public let secrets: [String]
    /// Seconds a signature stays acceptable (Stripe's libraries: 300).
    public let toleranceSeconds: Int64

    public init(secrets: [String], toleranceSeconds: Int64 = 300) {
        precondition(!secrets.isEmpty, "a Stripe webhook endpoint needs at least one secret")
        precondition(toleranceSeconds >= 0, "the tolerance cannot be negative")
        self.secrets = secrets
        self.toleranceSeconds = toleranceSeconds
    }

    /// Verifies `payload` (the raw body) against `header` (the `Stripe-Signature` value) at
    /// `nowSeconds` (Unix time); returns the signed timestamp.
    @discardableResult
    public func verify(header text: String, payload: some Collection<UInt8>, nowSeconds: Int64) throws(Failure) -> Int64 {
        let header = try Header(parsing: text)
        // Overflow-reporting subtraction: no timestamp in a hostile header can trap. A timestamp
        // ahead of our clock gives a negative age and passes, as in stripe-python.
        let age = nowSeconds.subtractingReportingOverflow(header.timestamp)
        guard !age.overflow, age.partialValue <= toleranceSeconds else {
            throw .timestampOutsideTolerance(timestamp: header.timestamp)
        }
        let signed = Array("\(header.timestamp).".utf8) + Array(payload)
        let candidates = header.signatures.compactMap(HexBytes.decode)
        for secret in secrets {
            let key = SymmetricKey(data: Array(secret.utf8))
            // isValidAuthenticationCode compares in constant time.
            if candidates.contains(where: { HMAC<SHA256>.isValidAuthenticationCode($0, authenticating: signed, using: key) }) {
                return header.timestamp
            }
        }
        throw .signatureMismatch
    }

    /// The `v1` signature of `payload` at `timestamp` with `secret` (lowercase hex): what Stripe
    /// sends; for tests and for signing the webhooks of a local fake.
    public static func signature(payload: some Collection<UInt8>, timestamp: Int64, secret: String) -> String {
        let signed = Array("\(timestamp).".utf8) + Array(payload)
        let code = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Array(secret.utf8)))
        return HexBytes.encode(Array(code))
    }
}

/// Lowercase hex, both ways; decoding refuses odd lengths and non-hex digits.
enum HexBytes {
    static func decode(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }
}
