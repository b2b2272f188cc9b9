import ArgumentParser
import Telemetry

/// How the orders' Idempotency-Keys are spelled; the same index always gets the same key, so a
/// request sent again is recognised as the same order.
///
/// `sequential` ("<run>-<index>") puts consecutive orders' keys next to each other in the
/// service's idempotency table (a B-tree), so a commit dirties a few leaf pages. `random` starts
/// each key with 16 hex digits of a hash of the index, as UUIDv4 keys (what Stripe advises its
/// clients) fall all over the key space: each order then dirties its own leaf page, which is the
/// realistic and the more expensive case (BENCHMARKS.md has both).
struct IdempotencyKeys: Sendable {
    enum Scheme: String, ExpressibleByArgument, CaseIterable, Sendable {
        case sequential, random
    }

    let scheme: Scheme
    let runId: String

    func key(for index: Int) -> String {
        switch scheme {
        case .sequential:
            return "\(runId)-\(index)"
        case .random:
            // A bijection, so distinct indexes never share a key.
            let hex = String(TraceIDGenerator.mix(UInt64(truncatingIfNeeded: index) &+ 0x9E37_79B9_7F4A_7C15), radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex + "-\(runId)-\(index)"
        }
    }
}
