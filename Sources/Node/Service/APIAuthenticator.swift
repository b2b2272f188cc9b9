import Foundation
import HTTPTypes
import Hummingbird
import LogStore
import Logging
import Metrics
import PaymentHTTP
import PaymentService
import Synchronization

/// The payment API's gate, asked on every request: the bearer key's record (read from the
/// store, cached for `cacheSeconds` so the hot path costs an HMAC and a dictionary lookup),
/// the per-key rate limit, then the route's scope. Refusals are the API's errors (`APIError`)
/// and are counted by reason; logs name the key's prefix, never the key.
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
        case refused(APIError)
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
            return .refused(.keysUnavailable)
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
            return .refused(refuse(.rateLimited, prefix: prefix, retryAfterSeconds: retryAfter))
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

    private func refuse(_ failure: APIAuthFailure, prefix: String?, scope: APIScope? = nil, retryAfterSeconds: Int = 0) -> APIError {
        failures[failure]?.increment()
        logger.debug("API request refused", metadata: ["reason": "\(failure.rawValue)", "prefix": "\(prefix ?? "-")"])
        switch failure {
        case .missing, .malformed, .unknown, .revoked, .expired: return .unauthenticated(failure)
        case .scope: return .missingScope(scope)
        case .merchant: return .merchantForbidden
        case .rateLimited: return .rateLimited(retryAfterSeconds: retryAfterSeconds)
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
        case refused(APIError)
    }

    func admit(_ request: Request, needs scope: APIScope) -> Admission {
        guard let authenticator else { return .allowed(merchant: nil, prefix: nil) }
        switch authenticator.admit(request, needs: scope) {
        case .refused(let error): return .refused(error)
        case .allowed(let principal): return .allowed(merchant: principal.merchantScope, prefix: principal.prefix)
        }
    }
}
