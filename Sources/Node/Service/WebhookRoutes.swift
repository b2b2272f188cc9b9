import Foundation
import Hummingbird
import HTTPTypes
import Logging
import Metrics
import NIOCore
import PaymentHTTP
import PaymentService
import Payments
import Telemetry

/// `POST /v1/webhooks/stripe` and `POST /v1/webhooks/adyen`: a PSP tells the service what
/// happened to a payment. The signature is the only credential (no API key: the PSP has none),
/// checked over the raw body before anything is parsed. A verified result is published to
/// `psp-result-updates` as the node's `Webhook:<psp>` producer and acknowledged once durable;
/// the consumer applies it (or deduplicates a redelivery, or dead-letters a result for an
/// unknown order) as it does the executor's. An unverifiable webhook is answered 400 and
/// never applied: the PSP retries, and a forged one changes nothing.
enum WebhookRoutes {
    struct Settings: Sendable {
        var stripe: StripeWebhookVerifier?
        var adyen: AdyenWebhookVerifier?
        var maximumBodyBytes = 1 << 20
        /// Stripe's API URL and secret key for status queries (`WebhookStatusQuery`), if configured.
        var stripeStatusQuery: (url: String, key: String)?

        var isEnabled: Bool { stripe != nil || adyen != nil }
    }

    static let stripePath = "/v1/webhooks/stripe"
    static let adyenPath = "/v1/webhooks/adyen"
    static let stripeSignature = HTTPField.Name("Stripe-Signature")!

    /// What a webhook request came to, counted in `paynode_webhooks_total{psp,outcome}`.
    enum Outcome: String {
        case published, ignored
        case invalidSignature = "invalid_signature"
        case malformed
        case tooLarge = "too_large"
        case failed
    }

    /// `statusQuery`: asks Stripe about the intent an unverifiable Stripe webhook names.
    static func register(on router: Router<BasicRequestContext>, settings: Settings, publisher: WebhookResultPublisher,
                         statusQuery: WebhookStatusQuery? = nil, logger: Logger,
                         clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        let warnings = RateLimitedLogger(logger: logger)
        let group = router.group(RouterPath("/v1/webhooks"))
        group.add(middleware: APIErrorMiddleware(logger: logger))
        if let verifier = settings.stripe {
            group.post("stripe") { request, _ -> Response in
                guard let body = await collect(request, limit: settings.maximumBodyBytes) else {
                    count("stripe", .tooLarge)
                    return PaymentAPI.response(APIReply(.bodyTooLarge(maximumBytes: settings.maximumBodyBytes)))
                }
                let now = clock()
                do {
                    _ = try verifier.verify(header: request.headers[stripeSignature] ?? "", payload: body, nowSeconds: now / 1000)
                } catch {
                    count("stripe", .invalidSignature)
                    warnings.warning(key: "webhook-stripe-signature", "refused a Stripe webhook: its signature does not verify",
                                     metadata: ["reason": "\(error)"])
                    statusQuery?.consider(unverifiedBody: body)
                    return refusal("invalid_signature", "Stripe-Signature does not verify: \(error)")
                }
                return try await handle(StripeWebhookEvent.interpret(body, nowMilliseconds: now), psp: "stripe",
                                        acknowledgement: PaymentAPI.response(.ok(#"{"received":true}"#)),
                                        publisher: publisher, logger: logger)
            }
        }
        if let verifier = settings.adyen {
            group.post("adyen") { request, _ -> Response in
                guard let body = await collect(request, limit: settings.maximumBodyBytes) else {
                    count("adyen", .tooLarge)
                    return PaymentAPI.response(APIReply(.bodyTooLarge(maximumBytes: settings.maximumBodyBytes)))
                }
                let items: [AdyenNotification.Received]
                switch AdyenNotification.parse(body) {
                case .success(let parsed): items = parsed
                case .failure(let error):
                    count("adyen", .malformed)
                    return refusal("invalid_body", error.message)
                }
                // Every item is signed on its own; one that does not verify refuses the batch,
                // so Adyen delivers it again rather than half of it being taken.
                for (index, received) in items.enumerated() {
                    do {
                        try verifier.verify(received.item, signature: received.signature)
                    } catch {
                        count("adyen", .invalidSignature)
                        warnings.warning(key: "webhook-adyen-signature", "refused an Adyen notification: an item's HMAC does not verify",
                                         metadata: ["item": "\(index)", "pspReference": "\(received.item.pspReference)", "reason": "\(error)"])
                        return refusal("invalid_signature", "notification item \(index): \(error)")
                    }
                }
                // Adyen wants this exact body within 10 s, else it retries.
                let accepted = Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "[accepted]")))
                return try await handle(AdyenNotification.interpret(items, nowMilliseconds: clock()), psp: "adyen",
                                        acknowledgement: accepted, publisher: publisher, logger: logger)
            }
        }
    }

    private static func handle(_ interpretation: WebhookInterpretation, psp: String, acknowledgement: Response,
                               publisher: WebhookResultPublisher, logger: Logger) async throws -> Response {
        switch interpretation {
        case .malformed(let reason):
            count(psp, .malformed)
            return refusal("invalid_body", reason)
        case .ignored(let type):
            count(psp, .ignored)
            logger.debug("acknowledged a webhook paynode does not act on", metadata: ["psp": "\(psp)", "type": "\(type)"])
            return acknowledgement
        case .results(let results):
            do {
                try await publisher.publish(results)
            } catch {
                count(psp, .failed)
                throw error
            }
            count(psp, .published)
            for result in results {
                logger.info("published a PSP result from a webhook", metadata: [
                    "psp": "\(psp)", "pspEventId": "\(result.pspEventId)", "paymentOrderId": "\(result.paymentOrderId)",
                    "pspReference": "\(result.pspReference ?? "-")", "pspStatus": "\(result.status.rawValue)",
                ])
            }
            return acknowledgement
        }
    }

    /// The raw body, or nil when it is larger than `limit`.
    private static func collect(_ request: Request, limit: Int) async -> [UInt8]? {
        try? Array(await request.body.collect(upTo: limit).readableBytesView)
    }

    private static func refusal(_ code: String, _ message: String) -> Response {
        PaymentAPI.response(APIReply(.invalid(PaymentRequestError(code: code, message: message))))
    }

    private static func count(_ psp: String, _ outcome: Outcome) {
        Counter(label: "paynode_webhooks_total", dimensions: [("psp", psp), ("outcome", outcome.rawValue)]).increment()
    }
}
