import ArgumentParser
import Foundation
import Payments

/// The service's PSP webhook flags. Secrets come from files or the environment, never from the
/// command line (where `ps` shows them), and are never logged.
struct WebhookOptions: ParsableArguments {
    @Option(name: .customLong("stripe-webhook-secrets-file"), help: "File with the Stripe endpoint's signing secrets (whsec_...), one per line, current first; several during rotation. Enables POST /v1/webhooks/stripe (env: PAYNODE_STRIPE_WEBHOOK_SECRETS, comma-separated, instead of a file).")
    var stripeSecretsFile: String?

    @Option(name: .customLong("stripe-webhook-tolerance-seconds"), help: "How old a Stripe-Signature timestamp may be (env: PAYNODE_STRIPE_WEBHOOK_TOLERANCE_SECONDS; default 300, Stripe's own).")
    var stripeToleranceSeconds: Int?

    @Option(name: .customLong("adyen-hmac-keys-file"), help: "File with the Adyen webhook HMAC keys (hex, as the Customer Area shows them), one per line, current first. Enables POST /v1/webhooks/adyen (env: PAYNODE_ADYEN_HMAC_KEYS, comma-separated, instead of a file).")
    var adyenKeysFile: String?

    @Option(name: .customLong("stripe-api-url"), help: "Stripe's API base URL; given (with --stripe-api-key-file), an unverifiable Stripe webhook makes the service ask Stripe about the PaymentIntent it names and publish Stripe's answer (env: PAYNODE_STRIPE_API_URL).")
    var stripeURL: String?

    @Option(name: .customLong("stripe-api-key-file"), help: "File holding the Stripe secret key for those status queries (env: PAYNODE_STRIPE_API_KEY, the key itself).")
    var stripeKeyFile: String?

    @Option(name: .customLong("webhook-max-body-bytes"), help: "Largest webhook body taken (env: PAYNODE_WEBHOOK_MAX_BODY_BYTES; default 1048576).")
    var maximumBodyBytes: Int?

    func resolve() throws -> WebhookRoutes.Settings {
        var settings = WebhookRoutes.Settings()
        settings.maximumBodyBytes = try EnvironmentOption.integer(maximumBodyBytes, "PAYNODE_WEBHOOK_MAX_BODY_BYTES", default: settings.maximumBodyBytes)
        guard (1024...(64 << 20)).contains(settings.maximumBodyBytes) else {
            throw ValidationError("--webhook-max-body-bytes \(settings.maximumBodyBytes) must be 1024 to 67108864")
        }
        let tolerance = try EnvironmentOption.integer(stripeToleranceSeconds, "PAYNODE_STRIPE_WEBHOOK_TOLERANCE_SECONDS", default: 300)
        guard (1...86_400).contains(tolerance) else { throw ValidationError("--stripe-webhook-tolerance-seconds \(tolerance) must be 1 to 86400") }
        let stripeSecrets = try Self.secrets(file: stripeSecretsFile, flag: "--stripe-webhook-secrets-file", variable: "PAYNODE_STRIPE_WEBHOOK_SECRETS")
        if !stripeSecrets.isEmpty {
            settings.stripe = StripeWebhookVerifier(secrets: stripeSecrets, toleranceSeconds: Int64(tolerance))
        }
        let adyenKeys = try Self.secrets(file: adyenKeysFile, flag: "--adyen-hmac-keys-file", variable: "PAYNODE_ADYEN_HMAC_KEYS")
        if !adyenKeys.isEmpty {
            do {
                settings.adyen = try AdyenWebhookVerifier(hexKeys: adyenKeys)
            } catch {
                throw ValidationError("\(adyenKeysFile.map { "--adyen-hmac-keys-file \($0)" } ?? "PAYNODE_ADYEN_HMAC_KEYS"): \(error)")
            }
        }
        if let url = EnvironmentOption.string(stripeURL, "PAYNODE_STRIPE_API_URL") {
            if settings.stripe != nil {
                settings.stripeStatusQuery = (url, try PSPOptions.secret(file: stripeKeyFile, flag: "--stripe-api-key-file", variable: "PAYNODE_STRIPE_API_KEY"))
            } else if stripeURL != nil {
                throw ValidationError("--stripe-api-url on the service is for status queries of unverifiable Stripe webhooks: give --stripe-webhook-secrets-file too")
            }
            // From the environment alone (shared with the executor, e.g. under `paynode dev`):
            // without webhook secrets there is nothing to query for.
        }
        return settings
    }

    /// The non-empty lines of `file`, else the comma-separated variable, else none.
    static func secrets(file: String?, flag: String, variable: String) throws -> [String] {
        if let file {
            guard let text = FileManager.default.contents(atPath: file).map({ String(decoding: $0, as: UTF8.self) }) else {
                throw ValidationError("\(flag) \(file) cannot be read")
            }
            let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !lines.isEmpty else { throw ValidationError("\(flag) \(file) holds no secret") }
            return lines
        }
        guard let value = ProcessInfo.processInfo.environment[variable] else { return [] }
        return value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
