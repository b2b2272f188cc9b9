/// An API key as a client presents it: `pk_` and 40 base62 characters (about 238 random
/// bits). Its first 12 characters are its public prefix: the store's lookup key and what
/// listings and logs show. The rest is never shown again after creation.
public struct APIKey: Sendable, Equatable {
    public let text: String

    public static let marker = "pk_"
    public static let randomCharacters = 40
    public static let prefixLength = 12

    /// Parses what followed `Bearer `: nil for anything that is not exactly a key's shape, so
    /// no lookup or hash is spent on it (the header is the client's, of any length).
    public init?(_ text: some StringProtocol) {
        let bytes = text.utf8
        guard bytes.count == Self.marker.utf8.count + Self.randomCharacters,
              bytes.starts(with: Self.marker.utf8),
              bytes.dropFirst(Self.marker.utf8.count).allSatisfy(Base62.contains) else { return nil }
        self.text = String(text)
    }

    /// A new key from `generator`: give it a CSPRNG (`SystemRandomNumberGenerator` reads the
    /// kernel's getrandom).
    public static func generate(using generator: inout some RandomNumberGenerator) -> APIKey {
        let characters = Array(marker.utf8) + Base62.random(count: randomCharacters, using: &generator)
        // The marker and base62: a key's shape by construction.
        return APIKey(unchecked: String(decoding: characters, as: UTF8.self))
    }

    private init(unchecked text: String) { self.text = text }

    /// The public part: `pk_` and the first 9 random characters.
    public var prefix: String { String(text.utf8.prefix(Self.prefixLength)) ?? "" }

    /// Whether `text` could be a key's prefix (what `apikeys revoke` takes).
    public static func isPrefix(_ text: String) -> Bool {
        let bytes = text.utf8
        return bytes.count == prefixLength && bytes.starts(with: marker.utf8) && bytes.dropFirst(marker.utf8.count).allSatisfy(Base62.contains)
    }
}

/// What a key may do. `orders:write` includes reading (a key that creates orders must be
/// able to look at them); `admin` is everything, every merchant, and the metrics and health
/// routes on the main listener.
public enum APIScope: String, Sendable, CaseIterable, Codable {
    case ordersWrite = "orders:write"
    case ordersRead = "orders:read"
    case admin

    /// Whether holding `self` grants `needed`.
    func grants(_ needed: APIScope) -> Bool {
        switch (self, needed) {
        case (.admin, _): true
        case (.ordersWrite, .ordersWrite), (.ordersWrite, .ordersRead): true
        case (.ordersRead, .ordersRead): true
        default: false
        }
    }

    /// Parses `orders:read,orders:write`; nil if any part is not a scope or the list is empty.
    public static func parseList(_ text: String) -> [APIScope]? {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: " ") }
        let scopes = parts.compactMap { APIScope(rawValue: $0) }
        guard !parts.isEmpty, scopes.count == parts.count else { return nil }
        var unique: [APIScope] = []
        for scope in scopes where !unique.contains(scope) { unique.append(scope) }
        return unique
    }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}
