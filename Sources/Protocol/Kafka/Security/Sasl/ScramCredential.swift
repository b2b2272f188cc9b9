/// What the node keeps of a SCRAM password (RFC 5802 section 3): the salt, the iteration count,
/// StoredKey = H(ClientKey) and ServerKey. Enough to verify a client's proof and to prove the
/// server knows the password, never enough to log in as the user.
public struct ScramCredential: Sendable, Hashable {
    public var hash: ScramHash
    public var salt: [UInt8]
    public var iterations: Int
    public var storedKey: [UInt8]
    public var serverKey: [UInt8]

    public init(hash: ScramHash, salt: [UInt8], iterations: Int, storedKey: [UInt8], serverKey: [UInt8]) {
        self.hash = hash
        self.salt = salt
        self.iterations = iterations
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// Kafka's smallest accepted iteration count (ScramMechanism.minIterations).
    public static let minimumIterations = 4096
    /// Above this a stored credential or a server's challenge is refused: Hi() would take seconds.
    public static let maximumIterations = 1 << 20
    public static let defaultIterations = 8192

    /// Derives the credential of `password` (its UTF-8 bytes, as Kafka's ScramFormatter takes them).
    public init(hash: ScramHash, password: [UInt8], salt: [UInt8], iterations: Int) {
        let keys = ScramKeys(hash: hash, saltedPassword: hash.saltedPassword(password, salt: salt, iterations: iterations))
        self.init(hash: hash, salt: salt, iterations: iterations, storedKey: keys.storedKey, serverKey: keys.serverKey)
    }

    /// A fresh random 32-byte salt.
    public static func randomSalt() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// Whether `password` is this credential's: recomputes StoredKey from the stored salt and
    /// iterations (how PLAIN logs in a user who only has SCRAM credentials).
    public func verifies(password: [UInt8]) -> Bool {
        let keys = ScramKeys(hash: hash, saltedPassword: hash.saltedPassword(password, salt: salt, iterations: iterations))
        return ScramHash.constantTimeEqual(keys.storedKey, storedKey)
    }
}

/// The keys RFC 5802 derives from SaltedPassword.
struct ScramKeys {
    var clientKey: [UInt8]
    var storedKey: [UInt8]
    var serverKey: [UInt8]

    init(hash: ScramHash, saltedPassword: [UInt8]) {
        clientKey = hash.hmac(key: saltedPassword, Array("Client Key".utf8))
        storedKey = hash.hash(clientKey)
        serverKey = hash.hmac(key: saltedPassword, Array("Server Key".utf8))
    }
}

/// A user's credentials as the node stores them: one SCRAM credential per mechanism.
/// Encoded as version 1, count, then per credential: mechanism (1 = SHA-256, 2 = SHA-512),
/// iterations (UInt32 big-endian), and salt, StoredKey, ServerKey each with a one-byte length.
public struct StoredScramCredentials: Sendable, Hashable {
    public var credentials: [ScramCredential]

    public init(credentials: [ScramCredential]) {
        self.credentials = credentials
    }

    public func credential(for hash: ScramHash) -> ScramCredential? {
        credentials.first { $0.hash == hash }
    }

    public var mechanisms: [SaslMechanism] { credentials.map(\.hash.mechanism) }

    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = [1, UInt8(truncatingIfNeeded: credentials.count)]
        for credential in credentials {
            bytes.append(credential.hash == .sha256 ? 1 : 2)
            let iterations = UInt32(clamping: credential.iterations)
            bytes += [UInt8(iterations >> 24), UInt8(truncatingIfNeeded: iterations >> 16),
                      UInt8(truncatingIfNeeded: iterations >> 8), UInt8(truncatingIfNeeded: iterations)]
            for field in [credential.salt, credential.storedKey, credential.serverKey] {
                bytes.append(UInt8(clamping: field.count))
                bytes += field.prefix(255)
            }
        }
        return bytes
    }

    /// Nil for bytes that are not such a record.
    public init?(decoding bytes: some Collection<UInt8>) {
        var reader = Array(bytes)[...]
        func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard reader.count >= count else { return nil }
            defer { reader = reader.dropFirst(count) }
            return reader.prefix(count)
        }
        guard let header = take(2), header.first == 1, let count = header.last else { return nil }
        var credentials: [ScramCredential] = []
        for _ in 0..<count {
            guard let kind = take(1)?.first, kind == 1 || kind == 2, let iterationBytes = take(4) else { return nil }
            let iterations = iterationBytes.reduce(0) { $0 << 8 | Int($1) }
            var fields: [[UInt8]] = []
            for _ in 0..<3 {
                guard let length = take(1)?.first, let field = take(Int(length)) else { return nil }
                fields.append(Array(field))
            }
            credentials.append(ScramCredential(hash: kind == 1 ? .sha256 : .sha512, salt: fields[0], iterations: iterations,
                                               storedKey: fields[1], serverKey: fields[2]))
        }
        guard reader.isEmpty else { return nil }
        self.init(credentials: credentials)
    }
}
