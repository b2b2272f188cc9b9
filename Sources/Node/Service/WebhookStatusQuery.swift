import Foundation
import Logging
import Metrics
import PSPAdapters
import PaymentService
import Payments
import Synchronization

/// What an unverifiable Stripe webhook still tells: that something may have happened to the
/// PaymentIntent its body names. Its content is never applied (it may be forged), but the
/// intent is looked up with Stripe itself (the API key authenticates the answer) and what
/// Stripe says is published as a result, as Hyperswitch runs a PSync instead of trusting an
/// unverified payload (psp-edge.md section 1). A forger can only make the service ask Stripe,
/// so asks are rate-limited and an intent asked about recently is not asked again.
final class WebhookStatusQuery: Sendable {
    struct Settings: Sendable {
        var rate: Double = 5
        var burst = 20
        /// Intents remembered as recently asked about (the oldest forgotten first).
        var recentIntents = 10_000
        var recentSeconds: Double = 60
    }

    private struct State {
        var bucket: TokenBucket
        var asked: [String: Double] = [:]
        var order: [String] = []
    }

    private let stripe: StripePSP
    private let publisher: WebhookResultPublisher
    private let settings: Settings
    private let state: Mutex<State>
    private let logger: Logger

    init(stripe: StripePSP, publisher: WebhookResultPublisher, settings: Settings = Settings(), logger: Logger) {
        self.stripe = stripe
        self.publisher = publisher
        self.settings = settings
        self.state = Mutex(State(bucket: TokenBucket(rate: settings.rate, burst: settings.burst, now: Self.now())))
        self.logger = logger
    }

    /// Starts a lookup of the intent `body` names, unless none is named, it was asked about
    /// within `recentSeconds`, or the rate is spent. Returns at once.
    func consider(unverifiedBody body: [UInt8]) {
        guard let intent = StripeAPI.intentHint(inEventBody: body) else { return }
        let now = Self.now()
        let admitted = state.withLock { state -> Bool in
            if let at = state.asked[intent], now - at < settings.recentSeconds { return false }
            guard state.bucket.take(now: now) == nil else { return false }
            if state.asked.updateValue(now, forKey: intent) == nil { state.order.append(intent) }
            if state.order.count > settings.recentIntents {
                let forgotten = state.order.removeFirst()
                state.asked[forgotten] = nil
            }
            return true
        }
        guard admitted else {
            count("skipped")
            return
        }
        Task { await self.query(intent) }
    }

    private func query(_ id: String) async {
        do {
            let intent = try await stripe.intent(id)
            guard let order = intent.paymentOrderId, case .result(let result) = StripeAPI.state(of: intent) else {
                count("ignored")
                return
            }
            // The id names what Stripe said when asked: asking again with no change is a duplicate.
            try await publisher.publish([ReportedPspResult(
                paymentOrderId: order, status: result.status, pspReference: intent.id,
                eventTimeMilliseconds: Int64(Date().timeIntervalSince1970 * 1000), errorCode: result.errorCode,
                errorMessage: result.errorMessage, psp: "stripe", pspEventId: "status-query:\(intent.id):\(intent.status)")])
            count("published")
            logger.info("published what Stripe says of an intent an unverifiable webhook named", metadata: [
                "pspReference": "\(intent.id)", "paymentOrderId": "\(order)", "pspStatus": "\(result.status.rawValue)"])
        } catch {
            count("failed")
            logger.warning("a status query for an unverifiable webhook failed", metadata: ["pspReference": "\(id)", "error": "\(error)"])
        }
    }

    private func count(_ outcome: String) {
        Counter(label: "paynode_webhook_status_queries_total", dimensions: [("psp", "stripe"), ("outcome", outcome)]).increment()
    }

    private static func now() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }
}
