import Foundation
import HTTPTypes
import Hummingbird
import LogStore
import Logging
import Metrics
import PaymentService
import Synchronization

/// The payment API's gate, asked on every request: the bearer key's record (read from the
/// store, cached for `cacheSeconds` so the hot path costs an HMAC and a dictionary lookup),
/// the per-key rate limit, then the route's scope. Refusals are the API's JSON errors and are
/// counted by reason; logs name the key's prefix, never the key.
final class APIAuthenticator: Sendable {
    struct Settings: Sendable {
        var defaultLimit = RateLimiter.Limit(rate: 1000, burst: 2000)
        /// Buckets (and cached records) kept at most.
        var maximumKeys = 10_000
        /// How long a key's record is trusted before it is read again: a key created or
        /// revoked by `paynode apikeys` is seen within this.
        var cacheSeconds = 1.0
    }

    private struct Cached {
        var record: APIKeyRecord
        /// The record's hash decoded once, not per request.
        var hash: [UInt8]
        var loadedAt: Double
    }

    private let store: LogStore
    private let hasher: APIKeyHasher
    private let settings: Settings
    private let limiter: Mutex<RateLimiter>
    private let cache = Mutex<[String: Cached]>([:])
    private let failures: [APIAuthFailure: Counter]
    private let logger: Logger
    private let started = ContinuousClock.now

    init(store: LogStore, hasher: APIKeyHasher, settings: Settings, logger: Logger) {
        self.store = store
        self.hasher = hasher
        self.settings = settings
        self.logger = logger
        limiter = Mutex(RateLimiter(maximumKeys: settings.maximumKeys))
        // Every reason is on /metrics from the start, so alerts see a zero, not a gap.
        failures = Dictionary(uniqueKeysWithValues: APIAuthFailure.allCases.map {
            ($0, Counter(label: "paynode_http_auth_failures_total", dimensions: [("reason", $0.rawValue)]))
        })
    }

    enum Admission {
        case allowed(APIPrincipal)
        case refused(Response)
    }

    func admit(_ request: Request, needs scope: APIScope) -> Admission {
        let key: APIKey
        switch APIAccess.bearerToken(request.headers[.authorization]) {
        case .failure(let failure): return .refused(refuse(failure, prefix: nil))
        case .success(let presented): key = presented
        }
        let prefix = key.prefix
        let cached: Cached?
        do {
            cached = try self.record(prefix: prefix)
        } catch {
            logger.error("reading an API key failed", metadata: ["prefix": "\(prefix)", "error": "\(error)"])
            return .refused(PaymentAPI.error(503, "unavailable", "API keys cannot be read right now; retry"))
        }
        let record = cached?.record
        let matches = cached.map { hasher.matches(key, storedHash: $0.hash) } ?? false
        let principal: APIPrincipal
        switch APIAccess.authenticate(record, hashMatches: matches, nowMilliseconds: Int64(Date().timeIntervalSince1970 * 1000)) {
        case .failure(let failure): return .refused(refuse(failure, prefix: prefix))
        case .success(let found): principal = found
        }
        let limit = RateLimiter.Limit(rate: principal.rateLimit ?? settings.defaultLimit.rate,
                                      burst: principal.rateBurst ?? settings.defaultLimit.burst)
        let now = secondsSinceStart()
        if let retryAfter = limiter.withLock({ $0.take(prefix, limit: limit, now: now) }) {
            var response = refuse(.rateLimited, prefix: prefix)
            response.headers[.retryAfter] = String(retryAfter)
            return .refused(response)
        }
        if let failure = APIAccess.authorize(principal, needs: scope) {
            return .refused(refuse(failure, prefix: prefix, scope: scope))
        }
        return .allowed(principal)
    }

    /// Counts a refusal decided elsewhere (the service's merchant check on creation).
    func count(_ failure: APIAuthFailure, prefix: String) {
        failures[failure]?.increment()
        logger.debug("API request refused", metadata: ["reason": "\(failure.rawValue)", "prefix": "\(prefix)"])
    }

    private func refuse(_ failure: APIAuthFailure, prefix: String?, scope: APIScope? = nil) -> Response {
        failures[failure]?.increment()
        logger.debug("API request refused", metadata: ["reason": "\(failure.rawValue)", "prefix": "\(prefix ?? "-")"])
        switch failure {
        case .missing, .malformed, .unknown, .revoked, .expired:
            var response = PaymentAPI.error(401, "unauthenticated", Self.message(failure))
            // RFC 6750 3: a request without credentials gets the bare challenge, a bad token
            // says so.
            response.headers[.wwwAuthenticate] = failure == .missing ? #"Bearer realm="paynode""#
                : #"Bearer realm="paynode", error="invalid_token""#
            return response
        case .scope:
            return PaymentAPI.error(403, "forbidden", "this API key lacks the \(scope?.rawValue ?? "needed") scope")
        case .merchant:
            return PaymentAPI.error(403, "forbidden", "this API key creates orders only for its own merchant")
        case .rateLimited:
            return PaymentAPI.error(429, "rate_limited", "this API key is over its request rate; retry after Retry-After seconds")
        }
    }

    static func message(_ failure: APIAuthFailure) -> String {
        switch failure {
        case .missing: "an Authorization: Bearer pk_... header is required"
        case .malformed: "the bearer token is not an API key (pk_ and 40 letters or digits)"
        case .revoked: "this API key was revoked"
        case .expired: "this API key has expired"
        default: "unknown API key"
        }
    }

    /// The record under `prefix`, from the cache while fresh, else from the store. Only keys
    /// that exist are cached, so made-up keys (one store read each) cannot push real ones out;
    /// the cache is bounded all the same and simply emptied when full.
    private func record(prefix: String) throws -> Cached? {
        let now = secondsSinceStart()
        if let cached = cache.withLock({ $0[prefix] }), now - cached.loadedAt < settings.cacheSeconds { return cached }
        // A record whose hash is not hex (never written so) matches no key.
        let found = try APIKeyStore.record(prefix: prefix, in: store).map {
            Cached(record: $0, hash: APIKeyHasher.bytes(hex: $0.hash) ?? [], loadedAt: now)
        }
        cache.withLock { entries in
            guard let found else {
                entries[prefix] = nil
                return
            }
            if entries.count >= settings.maximumKeys, entries[prefix] == nil { entries.removeAll(keepingCapacity: true) }
            entries[prefix] = found
        }
        return found
    }

    private func secondsSinceStart() -> Double {
        let elapsed = ContinuousClock.now - started
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// The gate as the routes see it: with authentication off every request is allowed and sees
/// every merchant (the pre-authentication behaviour, `--http-auth off`).
struct APIGate: Sendable {
    let authenticator: APIAuthenticator?

    enum Admission {
        /// `merchant`: the only merchant the request may touch, nil for all.
        case allowed(merchant: String?, prefix: String?)
        case refused(Response)
    }

    func admit(_ request: Request, needs scope: APIScope) -> Admission {
        guard let authenticator else { return .allowed(merchant: nil, prefix: nil) }
        switch authenticator.admit(request, needs: scope) {
        case .refused(let response): return .refused(response)
        case .allowed(let principal): return .allowed(merchant: principal.merchantScope, prefix: principal.prefix)
        }
    }
}
