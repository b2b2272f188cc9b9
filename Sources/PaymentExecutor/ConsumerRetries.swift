import KafkaClient
import LogStore
import Metrics

/// The retry bookkeeping of a consumer loop, shared by the service's PSP-result consumer and
/// the executor's order consumer. Only transient failures reach it: whatever a consumer can
/// pin on the data (an undecodable batch or record, a result for an unknown order) is
/// dead-lettered with the offset commit and never retried. What is left is the environment
/// (the store out of space, an I/O error, the broker unreachable), retried with capped
/// exponential back-off and jitter from the same offset, so nothing is skipped, and made
/// visible: `paynode_consumer_retries_total{consumer,reason}` counts the retries and
/// `paynode_consumer_consecutive_failures{consumer,partition}` is the current run of failures
/// (0 once a step succeeds), which the `PaynodeConsumerStalled` alert watches.
public struct ConsumerRetries: Sendable {
    public enum Scope: Sendable, Hashable {
        /// The consumer's whole request (the executor's one fetch for every partition).
        case request
        case partition(Int32)

        var label: String {
            switch self {
            case .request: "all"
            case .partition(let partition): String(partition)
            }
        }
    }

    public let consumer: String
    public let backoff: KafkaBackoff
    private var consecutive: [Scope: Int] = [:]

    public static let retriesMetric = "paynode_consumer_retries_total"
    public static let consecutiveFailuresMetric = "paynode_consumer_consecutive_failures"

    public init(consumer: String, backoff: KafkaBackoff = KafkaBackoff(initial: .milliseconds(100), maximum: .seconds(5), jitter: 0.5)) {
        self.consumer = consumer
        self.backoff = backoff
    }

    /// The failures in a row of `scope` so far.
    public func failures(_ scope: Scope) -> Int { consecutive[scope] ?? 0 }

    /// Records a failure of `scope` and answers how long to wait before trying it again.
    public mutating func failed(_ scope: Scope, reason: String) -> Duration {
        let count = (consecutive[scope] ?? 0) + 1
        consecutive[scope] = count
        Counter(label: Self.retriesMetric, dimensions: [("consumer", consumer), ("reason", reason)]).increment()
        gauge(scope).record(count)
        return backoff.delay(attempt: count - 1)
    }

    public mutating func succeeded(_ scope: Scope) {
        guard consecutive.removeValue(forKey: scope) != nil else { return }
        gauge(scope).record(0)
    }

    /// Makes the series exist (at 0) before the first failure, so alerts see a value.
    public func register(_ scope: Scope) {
        gauge(scope).record(0)
        Counter(label: Self.retriesMetric, dimensions: [("consumer", consumer), ("reason", "out_of_space")]).increment(by: 0)
    }

    private func gauge(_ scope: Scope) -> Gauge {
        Gauge(label: Self.consecutiveFailuresMetric, dimensions: [("consumer", consumer), ("partition", scope.label)])
    }

    /// The `reason` label of a transient failure: a small fixed set, so the series stay few.
    public static func reason(_ error: any Error) -> String {
        switch error {
        case let error as LogStoreError:
            switch error.code {
            case .outOfSpace: "out_of_space"
            case .overloaded: "overloaded"
            case .storageFailure, .corruptBatch: "io"
            default: "store"
            }
        case let error as KafkaClientError:
            switch error.code {
            case .connectionFailed, .connectionClosed, .requestTimedOut, .shutDown: "broker_unreachable"
            default: "broker"
            }
        default:
            "other"
        }
    }
}

extension Duration {
    /// Whole milliseconds, for log lines.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
