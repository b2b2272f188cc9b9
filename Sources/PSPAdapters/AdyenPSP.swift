import AsyncHTTPClient
import Foundation
import NIOHTTP1
import Payments

/// Adyen Checkout behind `PaymentServiceProvider` (see `AdyenAPI`). The API key goes in
/// `X-API-Key` and is never logged; the Idempotency-Key is the payment order id (36 characters,
/// within Adyen's 64).
public struct AdyenPSP: PaymentServiceProvider {
    public struct Configuration: Sendable {
        public var baseURL: String
        public var apiKey: String
        public var merchantAccount: String
        public var timeout: Duration
        public var maximumResponseBytes: Int

        public init(baseURL: String = "https://checkout-test.adyen.com", apiKey: String, merchantAccount: String,
                    timeout: Duration = .seconds(30), maximumResponseBytes: Int = 1 << 20) {
            self.baseURL = baseURL
            self.apiKey = apiKey
            self.merchantAccount = merchantAccount
            self.timeout = timeout
            self.maximumResponseBytes = maximumResponseBytes
        }
    }

    public let name = "adyen"
    private let http: PSPHTTP
    private let apiKey: String
    private let merchantAccount: String

    public init(configuration: Configuration, client: HTTPClient) throws {
        guard !configuration.apiKey.isEmpty else { throw PSPConfigurationError("the Adyen API key is empty") }
        guard !configuration.merchantAccount.isEmpty else { throw PSPConfigurationError("the Adyen merchant account is empty") }
        http = PSPHTTP(client: client, psp: "adyen", baseURL: try PSPHTTP.normalised(baseURL: configuration.baseURL),
                       timeout: configuration.timeout, maximumResponseBytes: configuration.maximumResponseBytes)
        apiKey = configuration.apiKey
        merchantAccount = configuration.merchantAccount
    }

    public func charge(_ charge: PspCharge, journal: PspReferenceJournal) async throws -> PspCallResult {
        let paymentOrderID = charge.paymentOrderID
        let body = AdyenAPI.paymentBody(order: paymentOrderID, amountMinor: charge.amountMinor, currency: charge.currency,
                                        paymentMethod: charge.paymentMethod, merchantAccount: merchantAccount)
        let response = try await http.send(.POST, AdyenAPI.paymentsPath, headers: [
            ("X-API-Key", apiKey), ("Idempotency-Key", paymentOrderID.description), ("Content-Type", "application/json"),
        ], body: body)
        switch AdyenAPI.answer(status: response.status, body: response.body, retryAfter: response.headers.first(name: "Retry-After")) {
        case .result(let result):
            return result
        case .transient(let message, let retryAfter):
            throw PspTransientError(psp: name, message: message, retryAfterMilliseconds: retryAfter)
        }
    }

    /// The refund request (Idempotency-Key = the refund id); Adyen answers `received` and the
    /// REFUND webhook brings the outcome.
    public func refund(_ refund: PspRefund, journal: PspReferenceJournal) async throws -> PspCallResult {
        guard let payment = refund.paymentPspReference else { return PspRefund.noPaymentReference }
        let response = try await http.send(.POST, AdyenAPI.refundPath(paymentPspReference: payment), headers: [
            ("X-API-Key", apiKey), ("Idempotency-Key", refund.refundID.description), ("Content-Type", "application/json"),
        ], body: AdyenAPI.refundBody(refund, merchantAccount: merchantAccount))
        switch AdyenAPI.refundAnswer(status: response.status, body: response.body, retryAfter: response.headers.first(name: "Retry-After")) {
        case .result(let result):
            return result
        case .transient(let message, let retryAfter):
            throw PspTransientError(psp: name, message: "refund \(refund.refundID): \(message)", retryAfterMilliseconds: retryAfter)
        }
    }

    /// No status query here either: the idempotent request replayed (it answers `received` again).
    public func retrieveRefund(_ refund: PspRefund, pspReference: String?) async throws -> PspCallResult {
        try await self.refund(refund, journal: .none)
    }

    /// Adyen has no status query: the idempotent create replayed answers the payment's outcome.
    public func retrieve(_ charge: PspCharge, pspReference: String?) async throws -> PspCallResult {
        try await self.charge(charge, journal: .none)
    }
}
