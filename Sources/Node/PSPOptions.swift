import ArgumentParser
import AsyncHTTPClient
import Foundation
import PSPAdapters
import PaymentExecutor
import Payments

/// The executor's PSP flags: each PSP is the simulator (the default, as `make run` uses it)
/// unless its API base URL is given, then the real adapter over HTTPS. Credentials come from a
/// file or the environment, never from a flag value, and are never logged.
struct PSPOptions: ParsableArguments {
    @Option(name: .customLong("stripe-api-url"), help: "Stripe's API base URL; given, orders with psp stripe are charged through Stripe PaymentIntents (e.g. https://api.stripe.com with a test-mode key) instead of the simulator (env: PAYNODE_STRIPE_API_URL).")
    var stripeURL: String?

    @Option(name: .customLong("stripe-api-key-file"), help: "File holding the Stripe secret key (sk_test_... or sk_live_...) (env: PAYNODE_STRIPE_API_KEY, the key itself).")
    var stripeKeyFile: String?

    @Option(name: .customLong("adyen-api-url"), help: "Adyen Checkout's base URL; given, orders with psp adyen are charged through /v71/payments (e.g. https://checkout-test.adyen.com) instead of the simulator (env: PAYNODE_ADYEN_API_URL).")
    var adyenURL: String?

    @Option(name: .customLong("adyen-api-key-file"), help: "File holding the Adyen API key (X-API-Key) (env: PAYNODE_ADYEN_API_KEY, the key itself).")
    var adyenKeyFile: String?

    @Option(name: .customLong("adyen-merchant-account"), help: "The Adyen merchant account payments are made for (env: PAYNODE_ADYEN_MERCHANT_ACCOUNT).")
    var adyenMerchantAccount: String?

    @Option(name: .customLong("pending-prompt-seconds"), help: "A PENDING payment younger than this is asked about again at the PSP's own pace (env: PAYNODE_PENDING_PROMPT_SECONDS; default 60).")
    var pendingPromptSeconds: Int?

    @Option(name: .customLong("reconcile-first-seconds"), help: "After that, the first reconciliation wait; each next one doubles (env: PAYNODE_RECONCILE_FIRST_SECONDS; default 60).")
    var reconcileFirstSeconds: Int?

    @Option(name: .customLong("reconcile-max-seconds"), help: "The longest reconciliation wait (env: PAYNODE_RECONCILE_MAX_SECONDS; default 3600).")
    var reconcileMaxSeconds: Int?

    @Option(name: .customLong("reconcile-give-up-seconds"), help: "Pending this long, reconciliation gives up: the order stays PENDING, flagged needs_attention for a person (env: PAYNODE_RECONCILE_GIVE_UP_SECONDS; default 259200, 72 h).")
    var reconcileGiveUpSeconds: Int?

    @Option(name: .customLong("max-parked-payments"), help: "PENDING payments kept waiting for their next follow-up outside a payment slot; past it they wait in their slot (env: PAYNODE_MAX_PARKED_PAYMENTS; default 100000).")
    var maximumParkedPayments: Int?

    @Option(name: .customLong("psp-timeout-seconds"), help: "How long one call to a real PSP may take before it is retried (env: PAYNODE_PSP_TIMEOUT_SECONDS; default 30).")
    var timeoutSeconds: Int?

    /// The adapters: a real one per PSP whose URL is given, else the simulator.
    /// The PENDING follow-up schedule in `configuration`.
    func applySchedule(to configuration: inout PaymentExecutor.Configuration) throws {
        func seconds(_ flag: Int?, _ name: String, _ variable: String, default fallback: Int64, range: ClosedRange<Int>) throws -> Int64 {
            let value = try EnvironmentOption.integer(flag, variable, default: Int(fallback / 1000))
            guard range.contains(value) else { throw ValidationError("--\(name) \(value) must be \(range.lowerBound) to \(range.upperBound)") }
            return Int64(value) * 1000
        }
        configuration.followUpPromptMilliseconds = try seconds(pendingPromptSeconds, "pending-prompt-seconds", "PAYNODE_PENDING_PROMPT_SECONDS",
                                                               default: configuration.followUpPromptMilliseconds, range: 0...86_400)
        configuration.followUpFirstMilliseconds = try seconds(reconcileFirstSeconds, "reconcile-first-seconds", "PAYNODE_RECONCILE_FIRST_SECONDS",
                                                              default: configuration.followUpFirstMilliseconds, range: 1...86_400)
        configuration.followUpMaximumMilliseconds = try seconds(reconcileMaxSeconds, "reconcile-max-seconds", "PAYNODE_RECONCILE_MAX_SECONDS",
                                                                default: configuration.followUpMaximumMilliseconds, range: 1...604_800)
        configuration.followUpGiveUpMilliseconds = try seconds(reconcileGiveUpSeconds, "reconcile-give-up-seconds", "PAYNODE_RECONCILE_GIVE_UP_SECONDS",
                                                               default: configuration.followUpGiveUpMilliseconds, range: 1...31_536_000)
        configuration.maximumParkedPayments = try EnvironmentOption.integer(maximumParkedPayments, "PAYNODE_MAX_PARKED_PAYMENTS",
                                                                            default: configuration.maximumParkedPayments)
        guard (0...10_000_000).contains(configuration.maximumParkedPayments) else {
            throw ValidationError("--max-parked-payments \(configuration.maximumParkedPayments) must be 0 to 10000000")
        }
        guard configuration.followUpFirstMilliseconds <= configuration.followUpMaximumMilliseconds else {
            throw ValidationError("--reconcile-first-seconds must not be above --reconcile-max-seconds")
        }
    }

    /// `client` makes (or hands back) the HTTPS client; it is called only for a real PSP.
    func providers(simulatedLatencyMilliseconds latency: Int, client: () -> HTTPClient) throws -> [any PaymentServiceProvider] {
        let timeout = try EnvironmentOption.integer(timeoutSeconds, "PAYNODE_PSP_TIMEOUT_SECONDS", default: 30)
        guard (1...600).contains(timeout) else { throw ValidationError("--psp-timeout-seconds \(timeout) must be 1 to 600") }
        var providers: [any PaymentServiceProvider] = []
        if let url = EnvironmentOption.string(stripeURL, "PAYNODE_STRIPE_API_URL") {
            let key = try Self.secret(file: stripeKeyFile, flag: "--stripe-api-key-file", variable: "PAYNODE_STRIPE_API_KEY")
            do {
                providers.append(try StripePSP(configuration: .init(baseURL: url, secretKey: key, timeout: .seconds(timeout)), client: client()))
            } catch {
                throw ValidationError("--stripe-api-url: \(error)")
            }
        } else {
            providers.append(SimulatedPSP(name: "stripe", latencyMilliseconds: latency))
        }
        if let url = EnvironmentOption.string(adyenURL, "PAYNODE_ADYEN_API_URL") {
            let key = try Self.secret(file: adyenKeyFile, flag: "--adyen-api-key-file", variable: "PAYNODE_ADYEN_API_KEY")
            guard let account = EnvironmentOption.string(adyenMerchantAccount, "PAYNODE_ADYEN_MERCHANT_ACCOUNT") else {
                throw ValidationError("--adyen-api-url needs --adyen-merchant-account (or PAYNODE_ADYEN_MERCHANT_ACCOUNT)")
            }
            do {
                providers.append(try AdyenPSP(configuration: .init(baseURL: url, apiKey: key, merchantAccount: account, timeout: .seconds(timeout)),
                                              client: client()))
            } catch {
                throw ValidationError("--adyen-api-url: \(error)")
            }
        } else {
            providers.append(SimulatedPSP(name: "adyen", latencyMilliseconds: latency))
        }
        return providers
    }

    /// The first secret of `file`, else the variable (`WebhookOptions.secrets`); a missing
    /// credential names where to put it.
    static func secret(file: String?, flag: String, variable: String) throws -> String {
        guard let first = try WebhookOptions.secrets(file: file, flag: flag, variable: variable).first else {
            throw ValidationError("give \(flag) or \(variable)")
        }
        return first
    }
}
