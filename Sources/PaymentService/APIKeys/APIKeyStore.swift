import LogStore

/// API keys in the service's store: table `api_keys` (prefix -> `APIKeyRecord` JSON) and the
/// node's HMAC secret in table `node_secrets`. Whoever can read the store has the secret and
/// the hashes, but never a key: a key cannot be derived from its HMAC.
public enum APIKeyStore {
    public static let table = "api.keys"
    public static let secretTable = "api.node_secrets"
    static let secretKey = Array("api_key_hmac".utf8)
    static let secretBytes = 32

    public struct Created: Sendable {
        /// Shown once; the store keeps only its hash.
        public var key: APIKey
        public var record: APIKeyRecord
    }

    /// What a new key may do, as `paynode apikeys create` was asked.
    public struct Request: Sendable {
        public var scopes: [APIScope]
        public var merchantId: String?
        public var expiresAt: Int64?
        public var rateLimit: Double?
        public var rateBurst: Int?
        public var label: String?
        public init(scopes: [APIScope], merchantId: String?, expiresAt: Int64? = nil, rateLimit: Double? = nil,
                    rateBurst: Int? = nil, label: String? = nil) {
            self.scopes = scopes
            self.merchantId = merchantId
            self.expiresAt = expiresAt
            self.rateLimit = rateLimit
            self.rateBurst = rateBurst
            self.label = label
        }

        /// Why the request makes no sense, or nil: a non-admin key must be bound to one
        /// merchant (else it would see none), an admin key sees every merchant (a binding
        /// would mislead).
        public var problem: String? {
            if scopes.isEmpty { return "a key needs at least one scope" }
            if scopes.contains(.admin) {
                return merchantId == nil ? nil : "an admin key sees every merchant; leave out --merchant"
            }
            guard let merchantId, !merchantId.isEmpty else { return "a key without the admin scope needs --merchant" }
            if merchantId.utf8.count > 128 { return "the merchant id is longer than 128 bytes" }
            if let rateLimit, !(rateLimit.isFinite && rateLimit >= 0) { return "the rate limit must be 0 or more requests per second" }
            if let rateBurst, rateBurst < 1 { return "the burst must be at least 1" }
            return nil
        }
    }

    /// Creates both tables and the secret if they are missing (the service at start, so a
    /// key created by `paynode apikeys` while it runs lands in a table it already has open),
    /// and returns the hasher.
    public static func prepare(_ store: LogStore) async throws -> APIKeyHasher {
        let secret = try await store.write { transaction -> [UInt8] in
            _ = try transaction.table(table)
            return try secretBytes(in: transaction.table(secretTable)) { try transaction.table(secretTable).put($0, $1) }
        }
        return APIKeyHasher(secret: secret)
    }

    /// The stored secret, or a new one from the system CSPRNG stored with `put`.
    public static func secretBytes(in table: some TableReading, put: ([UInt8], [UInt8]) throws -> Void) throws -> [UInt8] {
        if let stored = try table.get(secretKey), stored.count == Self.secretBytes { return stored }
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<Self.secretBytes).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try put(secretKey, secret)
        return secret
    }

    public static func create(_ request: Request, in store: LogStore, nowMilliseconds: Int64) async throws -> Created {
        try await store.write { transaction in
            let keys = try transaction.table(table)
            let secrets = try transaction.table(secretTable)
            return try create(request, keys: keys, put: { try keys.put($0, $1) },
                              secret: try secretBytes(in: secrets) { try secrets.put($0, $1) }, nowMilliseconds: nowMilliseconds)
        }
    }

    /// A new key whose prefix no stored key has (53 random bits: a clash is a fluke, retried).
    public static func create(_ request: Request, keys: some TableReading, put: ([UInt8], [UInt8]) throws -> Void,
                       secret: [UInt8], nowMilliseconds: Int64) throws -> Created {
        if let problem = request.problem { throw APIKeyStoreError(description: problem) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<16 {
            let key = APIKey.generate(using: &generator)
            guard try keys.get(Array(key.prefix.utf8)) == nil else { continue }
            let record = APIKeyRecord(prefix: key.prefix, hash: APIKeyHasher(secret: secret).hexHash(key), scopes: request.scopes,
                                      merchantId: request.merchantId, createdAt: nowMilliseconds, expiresAt: request.expiresAt,
                                      rateLimit: request.rateLimit, rateBurst: request.rateBurst, label: request.label)
            try put(Array(key.prefix.utf8), try record.encoded())
            return Created(key: key, record: record)
        }
        throw APIKeyStoreError(description: "no unused key prefix after 16 attempts")
    }

    /// Every key, in prefix order.
    public static func list(in store: LogStore) throws -> [APIKeyRecord] {
        try store.read { transaction in try transaction.table(table).map(list) ?? [] }
    }

    public static func list(_ keys: some TableReading) throws -> [APIKeyRecord] {
        var records: [APIKeyRecord] = []
        try keys.forEach(from: []) { _, value in
            records.append(try APIKeyRecord.decode(Array(value)))
            return true
        }
        return records
    }

    /// Marks the key revoked (kept, so listings show when); false if no key has that prefix.
    public static func revoke(prefix: String, in store: LogStore, nowMilliseconds: Int64) async throws -> Bool {
        try await store.write { transaction in
            let keys = try transaction.table(table)
            return try revoke(prefix: prefix, keys: keys, put: { try keys.put($0, $1) }, nowMilliseconds: nowMilliseconds)
        }
    }

    public static func revoke(prefix: String, keys: some TableReading, put: ([UInt8], [UInt8]) throws -> Void, nowMilliseconds: Int64) throws -> Bool {
        guard let bytes = try keys.get(Array(prefix.utf8)) else { return false }
        var record = try APIKeyRecord.decode(bytes)
        if record.revokedAt == nil { record.revokedAt = nowMilliseconds }
        try put(Array(prefix.utf8), try record.encoded())
        return true
    }

    /// The record stored under `prefix`, read in its own snapshot (a key created or revoked
    /// by another process since is seen).
    public static func record(prefix: String, in store: LogStore) throws -> APIKeyRecord? {
        try store.read { transaction in
            guard let bytes = try transaction.table(table)?.get(Array(prefix.utf8)) else { return nil }
            return try APIKeyRecord.decode(bytes)
        }
    }
}

public struct APIKeyStoreError: Error, CustomStringConvertible {
    public var description: String
}
