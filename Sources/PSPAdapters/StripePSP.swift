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

    /// A refund of the journaled intent (Idempotency-Key = the refund id). Its `re_` id comes
    /// with the answer and is journaled at once; a repeat reads that refund, never makes another.
    public func refund(_ refund: PspRefund, journal: PspReferenceJournal) async throws -> PspCallResult {
        guard let intent = refund.paymentPspReference, intent.hasPrefix("pi_") else { return PspRefund.noPaymentReference }
        if let known = journal.known { return try await readRefund(known) }
        let answer = try await refundCall(.POST, StripeAPI.refundPath(), idempotencyKey: refund.refundID.description,
                                          form: StripeAPI.refundForm(refund, intent: intent))
        switch answer {
        case .refund(let created):
            try await journal.record(created.id)
            return StripeAPI.refundResult(of: created)
        case .listed:
            throw PspTransientError(psp: name, message: "refund \(refund.refundID): a list answered a create")
        case .other(let other):
            return try settle(other, operation: "refund \(refund.refundID)")
        }
    }

    /// By the refund's id when known; else among the intent's refunds (by metadata), so a refund
    /// whose answer was lost after Stripe pruned its idempotency key is found, not made twice;
    /// created only when Stripe has none.
    public func retrieveRefund(_ refund: PspRefund, pspReference: String?) async throws -> PspCallResult {
        if let known = pspReference, known.hasPrefix("re_") { return try await readRefund(known) }
        guard let intent = refund.paymentPspReference, intent.hasPrefix("pi_") else { return PspRefund.noPaymentReference }
        switch try await refundCall(.GET, StripeAPI.refundListPath(intent: intent), idempotencyKey: nil, form: nil,
                                    refundId: refund.refundID.description) {
        case .listed(let found?), .refund(let found):
            return StripeAPI.refundResult(of: found)
        case .listed(nil):
            return try await self.refund(refund, journal: .none)
        case .other(let other):
            return try settle(other, operation: "list refunds of \(intent)")
        }
    }

    private func readRefund(_ id: String) async throws -> PspCallResult {
        switch try await refundCall(.GET, StripeAPI.refundRetrievePath(id), idempotencyKey: nil, form: nil) {
        case .refund(let current): return StripeAPI.refundResult(of: current)
        case .listed: throw PspTransientError(psp: name, message: "retrieve \(id): a list answered")
        case .other(let other): return try settle(other, operation: "retrieve \(id)")
        }
    }

    /// A refund call's answer other than a refund: refused is a FAILED refund (nothing was
    /// refunded), anything else is retried.
    private func settle(_ answer: StripeAPI.Answer, operation: String) throws -> PspCallResult {
        switch answer {
        case .result(let result):
            return result
        case .refused(let code, let message):
            return PspCallResult(status: .failed, errorCode: code ?? "invalid_request", errorMessage: message)
        case .transient(let message, let retryAfter):
            throw PspTransientError(psp: name, message: "\(operation): \(message)", retryAfterMilliseconds: retryAfter)
        case .readState(let message):
            throw PspTransientError(psp: name, message: "\(operation): \(message)")
        case .intent(let intent):
            throw PspTransientError(psp: name, message: "\(operation): a PaymentIntent (\(intent.id)) answered")
        }
    }

    private func refundCall(_ method: HTTPMethod, _ path: String, idempotencyKey: String?, form: String?,
                            refundId: String? = nil) async throws -> StripeAPI.RefundAnswer {
        let response = try await http.send(method, path, headers: headers(idempotencyKey: idempotencyKey, form: form),
                                           body: form.map { Array($0.utf8) })
        return StripeAPI.refundAnswer(status: response.status, body: response.body, shouldRetry: response.headers.first(name: "Stripe-Should-Retry"),
                                      retryAfter: response.headers.first(name: "Retry-After"), refundId: refundId)
    }

    private func headers(idempotencyKey: String?, form: String?) -> [(String, String)] {
        var headers = [("Authorization", "Bearer \(secretKey)"), ("Stripe-Version", StripeAPI.apiVersion)]
        if let idempotencyKey { headers.append(("Idempotency-Key", idempotencyKey)) }
        if form != nil { headers.append(("Content-Type", "application/x-www-form-urlencoded")) }
        return headers
    }

    private func call(_ method: HTTPMethod, _ path: String, idempotencyKey: String?, form: String?) async throws -> StripeAPI.Answer {
        let headers = headers(idempotencyKey: idempotencyKey, form: form)
        let response = try await http.send(method, path, headers: headers, body: form.map { Array($0.utf8) })
        return StripeAPI.answer(status: response.status, body: response.body, shouldRetry: response.headers.first(name: "Stripe-Should-Retry"),
                                retryAfter: response.headers.first(name: "Retry-After"))
    }
}
