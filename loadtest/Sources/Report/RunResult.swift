import Foundation
import Histogram

/// Latency percentiles in milliseconds.
struct LatencySummary: Codable, Sendable {
    var count: UInt64
    var p50: Double
    var p90: Double
    var p99: Double
    var p999: Double
    var max: Double
    var mean: Double

    init(_ histogram: Histogram<UInt64>) {
        func ms(_ microseconds: UInt64) -> Double { (Double(microseconds) / 1000 * 1000).rounded() / 1000 }
        count = histogram.totalCount
        p50 = ms(histogram.valueAtPercentile(50))
        p90 = ms(histogram.valueAtPercentile(90))
        p99 = ms(histogram.valueAtPercentile(99))
        p999 = ms(histogram.valueAtPercentile(99.9))
        max = ms(histogram.max)
        mean = (histogram.mean / 1000 * 1000).rounded() / 1000
    }

    var line: String {
        String(format: "p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  p99.9 %.1f ms  max %.1f ms  (%llu samples)", p50, p90, p99, p999, max, count)
    }
}

/// One second of the run: what completed in it and how long those took.
struct SecondSample: Codable, Sendable {
    var second: Int
    var completed: Int
    var p50Milliseconds: Double
    var p99Milliseconds: Double
    var maxMilliseconds: Double
}

/// Something the fault injectors did, at a time on the run clock.
struct FaultEvent: Codable, Sendable {
    var atSeconds: Double
    var what: String
}

/// The JSON result file: the scenario, what happened, and the checker's verdict.
struct RunResult: Codable, Sendable {
    var tool = "paynode loadtest"
    var mode: String
    var scenario: [String: String]
    var startedAt: String
    var durationSeconds: Double
    var ordersAccepted: Int
    var ordersFailed: Int
    var requestRetries: Int
    /// Failed fetches of the payment-events tail (each retried): service restarts, or timeouts.
    var tailErrors: Int
    var resultsProduced: Int
    var completed: Int
    var offeredPerSecond: Double?
    /// Completed (terminal state committed) per second, from the first intended start to the
    /// last completion.
    var throughputPerSecond: Double
    /// End-to-end latency from the intended start (see OrderEntry.intendedAt) to the terminal
    /// event being readable in payment-events, in milliseconds.
    var latency: LatencySummary
    var nodes: [NodeResources]
    var restarts: [String: Int]
    /// Seconds from spawn to the ready line, per node, for every start after the first.
    var recoverySeconds: [String: [Double]]
    var faults: [FaultEvent]
    var proxy: [String: Int]
    var perSecond: [SecondSample]
    var check: CheckReport?
    var passed: Bool
}

extension RunResult {
    func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }
}

/// Latencies from the ledger: per order, terminal event seen minus intended start.
struct LatencyAnalysis {
    var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
    var perSecond: [SecondSample] = []
    var firstIntended: UInt64 = .max
    var lastCompletion: UInt64 = 0
    var completed = 0

    init(orders: [OrderEntry]) {
        var buckets: [Int: [UInt64]] = [:]
        for order in orders {
            firstIntended = min(firstIntended, order.intendedAt)
            guard let seen = order.terminalSeenAt else { continue }
            let latency = seen > order.intendedAt ? seen - order.intendedAt : 0
            // Measured from the intended start, so stalls are already charged to every
            // operation they delayed: no further coordinated-omission correction is needed.
            _ = histogram.record(max(1, latency))
            lastCompletion = max(lastCompletion, seen)
            completed += 1
            buckets[Int(seen / 1_000_000), default: []].append(latency)
        }
        guard let last = buckets.keys.max() else { return }
        let first = firstIntended == .max ? 0 : Int(firstIntended / 1_000_000)
        for second in first...last {
            var values = buckets[second] ?? []
            values.sort()
            func at(_ fraction: Double) -> Double {
                values.isEmpty ? 0 : Double(values[min(values.count - 1, Int(Double(values.count) * fraction))]) / 1000
            }
            perSecond.append(SecondSample(second: second, completed: values.count, p50Milliseconds: at(0.5),
                                          p99Milliseconds: at(0.99), maxMilliseconds: Double(values.last ?? 0) / 1000))
        }
    }

    var throughputPerSecond: Double {
        guard completed > 0, lastCompletion > firstIntended else { return 0 }
        return Double(completed) / (Double(lastCompletion - firstIntended) / 1_000_000)
    }
}
