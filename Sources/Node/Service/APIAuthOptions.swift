import ArgumentParser
import Foundation
import PaymentService

/// The service's HTTP authentication flags (else `PAYNODE_*` variables, else the defaults).
struct APIAuthOptions: ParsableArguments {
    @Option(name: .customLong("http-auth"), help: "on: every payment API request needs an API key (Authorization: Bearer pk_...); off: the API is open to anyone who reaches it, for tests only (env: PAYNODE_HTTP_AUTH; default on).")
    var httpAuth: String?

    @Option(name: .customLong("ops-listen"), help: "Listener HOST:PORT serving /metrics, /healthz and /readyz without a key; keep it local (env: PAYNODE_OPS_LISTEN; default 127.0.0.1:9464). On the main listener these need an admin key.")
    var opsListen: ListenAddress?

    @Option(name: .customLong("http-rate-limit"), help: "Requests per second one API key may make, unless it was created with its own --rate-limit; 0 for no limit (env: PAYNODE_HTTP_RATE_LIMIT; default 1000).")
    var rateLimit: Double?

    @Option(name: .customLong("http-rate-burst"), help: "Requests one API key may make at once above its rate (the token bucket's size), unless it was created with its own --burst (env: PAYNODE_HTTP_RATE_BURST; default 2000).")
    var rateBurst: Int?

    @Option(name: .customLong("http-rate-limit-keys"), help: "API keys whose rate-limit buckets and records are kept in memory at most; beyond it refilled buckets are forgotten first (env: PAYNODE_HTTP_RATE_LIMIT_KEYS; default 10000).")
    var rateLimitKeys: Int?

    static let defaultOpsListen = ListenAddress(host: "127.0.0.1", port: 9464)

    func authenticationRequired() throws -> Bool {
        let value = EnvironmentOption.string(httpAuth, "PAYNODE_HTTP_AUTH") ?? "on"
        switch value.lowercased() {
        case "on": return true
        case "off": return false
        default: throw ValidationError("--http-auth \(value) must be on or off")
        }
    }

    func opsAddress() throws -> ListenAddress {
        try ListenAddress.resolve(opsListen, environment: "PAYNODE_OPS_LISTEN", default: Self.defaultOpsListen)
    }

    func settings() throws -> APIAuthenticator.Settings {
        var settings = APIAuthenticator.Settings()
        var rate = settings.defaultLimit.rate
        if let rateLimit {
            rate = rateLimit
        } else if let text = ProcessInfo.processInfo.environment["PAYNODE_HTTP_RATE_LIMIT"] {
            guard let parsed = Double(text) else { throw ValidationError("PAYNODE_HTTP_RATE_LIMIT=\(text) is not a number") }
            rate = parsed
        }
        guard rate.isFinite, (0...10_000_000).contains(rate) else { throw ValidationError("--http-rate-limit \(rate) must be 0 to 10000000") }
        let burst = try EnvironmentOption.integer(rateBurst, "PAYNODE_HTTP_RATE_BURST", default: settings.defaultLimit.burst)
        guard (1...10_000_000).contains(burst) else { throw ValidationError("--http-rate-burst \(burst) must be 1 to 10000000") }
        let keys = try EnvironmentOption.integer(rateLimitKeys, "PAYNODE_HTTP_RATE_LIMIT_KEYS", default: settings.maximumKeys)
        guard (1...10_000_000).contains(keys) else { throw ValidationError("--http-rate-limit-keys \(keys) must be 1 to 10000000") }
        settings.defaultLimit = RateLimiter.Limit(rate: rate, burst: burst)
        settings.maximumKeys = keys
        return settings
    }
}
