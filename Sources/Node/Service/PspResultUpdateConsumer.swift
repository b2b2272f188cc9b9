import Logging
import LogStore
import PaymentExecutor
import PaymentService
import Payments
import ServiceLifecycle

/// Reads `psp-result-updates` from the embedded log as group `payment-service` and hands every
/// event to ProcessPaymentService, one task per partition. A failed step (e.g. the store is out
/// of space) is retried with capped exponential back-off and jitter without advancing the
/// offset, counted in `paynode_consumer_retries_total` (`ConsumerRetries`).
struct PspResultUpdateConsumer: Service {
    let service: PaymentService
    let partitions: Int
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for partition in 0..<partitions {
                    group.addTask { await consume(partition: Int32(partition)) }
                }
            }
        }
    }

    private func consume(partition: Int32) async {
        // Only transient failures throw out of a step (what the data is to blame for is
        // dead-lettered inside it), so every failure here is retried from the same offset.
        var retries = ConsumerRetries(consumer: "payment-service")
        retries.register(.partition(partition))
        while !Task.isCancelled {
            do {
                let summary = try await service.processResults(partition: partition, maxRecords: 5000, maxWait: .milliseconds(500))
                retries.succeeded(.partition(partition))
                if summary.records > 0 {
                    logger.debug("processed PSP results", metadata: [
                        "topic": "\(PaymentTopics.pspResultUpdates)", "partition": "\(partition)",
                        "records": "\(summary.records)", "next_offset": "\(summary.nextOffset)",
                        "applied": "\(summary.outcomes[.applied] ?? 0)", "duplicates": "\(summary.outcomes[.duplicate] ?? 0)",
                        "conflicts": "\(summary.outcomes[.conflict] ?? 0)", "dead_lettered": "\(summary.deadLettered)",
                    ])
                }
            } catch {
                guard !Task.isCancelled else { return }
                let wait = retries.failed(.partition(partition), reason: ConsumerRetries.reason(error))
                logger.warning("PSP result processing failed; retrying without advancing the offset", metadata: [
                    "topic": "\(PaymentTopics.pspResultUpdates)", "partition": "\(partition)", "error": "\(error)",
                    "consecutive_failures": "\(retries.failures(.partition(partition)))",
                    "retry_in_ms": "\(Int(wait / .milliseconds(1)))",
                ])
                try? await Task.sleep(for: wait)
            }
        }
    }
}
