/// Why a request was refused; the `reason` label of `paynode_http_auth_failures_total`.
public enum APIAuthFailure: String, Error, Sendable, CaseIterable {
    /// No `Authorization: Bearer` header (401).
    case missing
    /// A bearer token that is not a key's shape (401).
    case malformed
    /// No key with that prefix, or the hash differs (401).
    case unknown
    case revoked
    case expired
    /// A valid key without the scope the route needs (403).
    case scope
    /// A merchant key creating an order for another merchant (403).
    case merchant
    /// Over the key's rate limit (429).
    case rateLimited = "rate_limited"

    /// 401 for who-are-you failures, 403 for may-not, 429 for too-fast.
    public var httpStatus: Int {
        switch self {
        case .missing, .malformed, .unknown, .revoked, .expired: 401
        case .scope, .merchant: 403
        case .rateLimited: 429
        }
    }
}

/// A request's verified key: what the routes decide with.
public struct APIPrincipal: Sendable, Equatable {
    public var prefix: String
    public var scopes: [APIScope]
    public var merchantId: String?
    public var rateLimit: Double?
    public var rateBurst: Int?

    public func permits(_ needed: APIScope) -> Bool { scopes.contains { $0.grants(needed) } }

    /// The merchant whose orders this key is confined to; nil: every merchant (`admin`).
    public var merchantScope: String? { permits(.admin) ? nil : (merchantId ?? "") }

    /// Whether an order of `merchant` exists for this key. Another merchant's order is
    /// answered 404, as if absent: a key never learns which ids exist elsewhere.
    public func sees(merchant: String) -> Bool { merchantScope.map { $0 == merchant } ?? true }
}

/// The pure decision for one request: the key found under the presented key's prefix (if
/// any), whether its hash matched, and the time, to a principal or a failure. Scope is
/// checked separately (`authorize`), after the rate limit, so a key hammering a route it may
/// not use is still limited.
public enum APIAccess {
    public static func authenticate(_ record: APIKeyRecord?, hashMatches: Bool, nowMilliseconds: Int64) -> Result<APIPrincipal, APIAuthFailure> {
        guard let record, hashMatches else { return .failure(.unknown) }
        if record.revokedAt != nil { return .failure(.revoked) }
        if let expiresAt = record.expiresAt, nowMilliseconds >= expiresAt { return .failure(.expired) }
        return .success(APIPrincipal(prefix: record.prefix, scopes: record.scopes, merchantId: record.merchantId,
                                     rateLimit: record.rateLimit, rateBurst: record.rateBurst))
    }

    public static func authorize(_ principal: APIPrincipal, needs scope: APIScope) -> APIAuthFailure? {
        principal.permits(scope) ? nil : .scope
    }

    /// The bearer token of an `Authorization` header value: the scheme is case-insensitive
    /// (RFC 9110 11.1), one or more spaces follow it.
    public static func bearerToken(_ header: String?) -> Result<APIKey, APIAuthFailure> {
        guard let header else { return .failure(.missing) }
        let bytes = Array(header.utf8)
        let scheme = Array("bearer".utf8)
        guard bytes.count > scheme.count, zip(bytes, scheme).allSatisfy({ $0 | 0x20 == $1 }),
              bytes[scheme.count] == UInt8(ascii: " ") else { return .failure(.malformed) }
        let token = bytes[scheme.count...].drop { $0 == UInt8(ascii: " ") }
        guard let key = APIKey(String(decoding: token, as: UTF8.self)) else { return .failure(.malformed) }
        return .success(key)
    }
}
