import Foundation

/// What the store keeps of a key (table `api_keys`, keyed by its prefix): the keyed hash of
/// the whole key, never the key, and what it may do.
public struct APIKeyRecord: Codable, Sendable, Equatable {
    public var prefix: String
    /// HMAC-SHA256 of the whole key under the node's secret, hex.
    public var hash: String
    public var scopes: [APIScope]
    /// The one merchant whose orders the key creates and sees; nil only for `admin` keys.
    public var merchantId: String?
    public var createdAt: Int64
    public var expiresAt: Int64?
    public var revokedAt: Int64?
    /// Requests per second for this key (0: unlimited); nil takes the node's default.
    public var rateLimit: Double?
    /// The bucket's size; nil takes the node's default.
    public var rateBurst: Int?
    /// Free text for whoever lists keys ("checkout frontend").
    public var label: String?

    public init(prefix: String, hash: String, scopes: [APIScope], merchantId: String?, createdAt: Int64,
                expiresAt: Int64? = nil, revokedAt: Int64? = nil, rateLimit: Double? = nil, rateBurst: Int? = nil, label: String? = nil) {
        self.prefix = prefix
        self.hash = hash
        self.scopes = scopes
        self.merchantId = merchantId
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.rateLimit = rateLimit
        self.rateBurst = rateBurst
        self.label = label
    }

    func encoded() throws -> [UInt8] { try JSON.encode(self) }

    static func decode(_ bytes: [UInt8]) throws -> APIKeyRecord { try JSON.decode(APIKeyRecord.self, bytes) }
}
