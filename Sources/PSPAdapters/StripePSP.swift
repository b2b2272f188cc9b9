import AsyncHTTPClient
import Foundation
import Logging
import NIOHTTP1
import Payments

/// Stripe PaymentIntents behind `PaymentServiceProvider` (see `StripeAPI` for the flow and the
/// readings). The secret key goes in `Authorization: Bearer` and is never logged.
public struct StripePSP: PaymentServiceProvider {
    public struct Configuration: Sendable {
        public var baseURL: String
        public var secretKey: String
        public var timeout: Duration
        public var maximumResponseBytes: Int

        public init(baseURL: String = "https://api.stripe.com", secretKey: String, timeout: Duration = .seconds(30),
                    maximumResponseBytes: Int = 1 << 20) {
            self.baseURL = baseURL
            self.secretKey = secretKey
            self.timeout = timeout
            self.maximumResponseBytes = maximumResponseBytes
        }
    }

    public let name = "stripe"
    private let http: PSPHTTP
    private let secretKey: String

    public init(configuration: Configuration, client: HTTPClient) throws {
        guard !configuration.secretKey.isEmpty else { throw PSPConfigurationError("the Stripe secret key is empty") }
        http = PSPHTTP(client: client, psp: "stripe", baseURL: try PSPHTTP.normalised(baseURL: configuration.baseURL),
                       timeout: configuration.timeout, maximumResponseBytes: configuration.maximumResponseBytes)
        secretKey = configuration.secretKey
    }

    public func charge(_ charge: PspCharge, journal: PspReferenceJournal) async throws -> PspCallResult {
        let paymentOrderID = charge.paymentOrderID
        let intent: String
        if let known = journal.known {
            intent = known
        } else {
            let form = StripeAPI.createForm(order: paymentOrderID, amountMinor: charge.amountMinor, currency: charge.currency,
                                            paymentMethod: charge.paymentMethod)
            switch try await call(.POST, StripeAPI.createPath(), idempotencyKey: paymentOrderID.description, form: form) {
            case .intent(let created):
                // Named before any money moves: journaled first, so no repeat can make a second.
                try await journal.record(created.id)
                if case .result(let result) = StripeAPI.state(of: created) { return result }
                intent = created.id
            case .result(let result):
                return result
            case .refused(let code, let message):
                return PspCallResult(status: .failed, errorCode: code ?? "invalid_request", errorMessage: message)
            case .transient(let message, let retryAfter):
                throw PspTransientError(psp: name, message: "create: \(message)", retryAfterMilliseconds: retryAfter)
            case .readState(let message):
                throw PspTransientError(psp: name, message: "create: \(message)")
            }
        }
        return try await confirm(intent, order: paymentOrderID)
    }

    /// By the intent's id when it is known; else the idempotent create again (it answers the
    /// intent it made), so a charge whose answer was lost is found, not made twice.
    public func retrieve(_ charge: PspCharge, pspReference: String?) async throws -> PspCallResult {
        guard let intent = pspReference, intent.hasPrefix("pi_") else {
            return try await self.charge(charge, journal: .none)
        }
        switch try await read(intent) {
        case .result(let result): return result
        case .needsConfirmation: return try await confirm(intent, order: charge.paymentOrderID)
        }
    }

    /// The intent as Stripe has it now (authenticated with the secret key, so its content is
    /// Stripe's, whoever named the id).
    public func intent(_ id: String) async throws -> StripeAPI.Intent {
        switch try await call(.GET, StripeAPI.retrievePath(id), idempotencyKey: nil, form: nil) {
        case .intent(let intent): return intent
        case .transient(let message, let retryAfter):
            throw PspTransientError(psp: name, message: "retrieve \(id): \(message)", retryAfterMilliseconds: retryAfter)
        case .result, .readState, .refused:
            throw PspTransientError(psp: name, message: "retrieve \(id): no such PaymentIntent")
        }
    }

    private func confirm(_ intent: String, order: PaymentOrderID) async throws -> PspCallResult {
        switch try await call(.POST, StripeAPI.confirmPath(intent), idempotencyKey: StripeAPI.confirmIdempotencyKey(order), form: "") {
        case .intent(let confirmed):
            switch StripeAPI.state(of: confirmed) {
            case .result(let result): return result
            case .needsConfirmation: throw PspTransientError(psp: name, message: "\(intent) is still unconfirmed after confirm")
            }
        case .result(var result):
            result.pspReference = result.pspReference ?? intent
            return result
        case .readState, .refused:
            // Already confirmed (a repeat), or refused as it stands: its state says what happened.
            switch try await read(intent) {
            case .result(let result): return result
            case .needsConfirmation: throw PspTransientError(psp: name, message: "\(intent) could not be confirmed")
            }
        case .transient(let message, let retryAfter):
            throw PspTransientError(psp: name, message: "confirm \(intent): \(message)", retryAfterMilliseconds: retryAfter)
        }
    }

    private func read(_ intent: String) async throws -> StripeAPI.IntentState {
        switch try await call(.GET, StripeAPI.retrievePath(intent), idempotencyKey: nil, form: nil) {
        case .intent(let current):
            return StripeAPI.state(of: current)
        case .transient(let message, let retryAfter):
            throw PspTransientError(psp: name, message: "retrieve \(intent): \(message)", retryAfterMilliseconds: retryAfter)
        case .result(let result):
            return .result(result)
        case .readState(let message), .refused(_, let message):
            throw PspTransientError(psp: name, message: "retrieve \(intent): \(message)")
        }
    }

    private func call(_ method: HTTPMethod, _ path: String, idempotencyKey: String?, form: String?) async throws -> StripeAPI.Answer {
        var headers = [("Authorization", "Bearer \(secretKey)"), ("Stripe-Version", StripeAPI.apiVersion)]
        if let idempotencyKey { headers.append(("Idempotency-Key", idempotencyKey)) }
        if form != nil { headers.append(("Content-Type", "application/x-www-form-urlencoded")) }
        let response = try await http.send(method, path, headers: headers, body: form.map { Array($0.utf8) })
        return StripeAPI.answer(status: response.status, body: response.body, shouldRetry: response.headers.first(name: "Stripe-Should-Retry"),
                                retryAfter: response.headers.first(name: "Retry-After"))
    }
}
