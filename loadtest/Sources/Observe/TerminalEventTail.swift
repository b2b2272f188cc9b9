import KafkaClient
import Payments
import Protocol

/// Tails `payment-events` from where it ended when the run began and notes, for each order, when
/// its terminal event (PaymentSucceeded or PaymentFailed) became readable: the moment the
/// service's transaction with the new state committed, as a downstream consumer sees it.
/// It reads the service directly, not through the fault proxy, and rides out service restarts.
struct TerminalEventTail: Sendable {
    let client: KafkaClient
    let ledger: RunLedger

    func run(from start: [KafkaTopicPartition: Int64]) async {
        var positions = start
        while !Task.isCancelled {
            do {
                let results = try await client.fetch(positions, maxBytesPerPartition: 4 << 20, maxWait: .milliseconds(100))
                let seenAt = ledger.clock.now()
                var seen: [String] = []
                for (partition, result) in results {
                    for record in result.records {
                        guard let key = record.key else { continue }
                        seen.append(String(decoding: key, as: UTF8.self))
                    }
                    positions[partition] = result.nextOffset(after: positions[partition] ?? 0)
                }
                ledger.terminalSeen(seen, at: seenAt)
            } catch {
                // The service is restarting (or killed), or a fetch timed out: try again shortly.
                ledger.tailErrors.add(1, ordering: .relaxed)
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
    }
}
