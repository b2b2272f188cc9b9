import KafkaClient
import Protocol

/// Where an order's results go: its `psp-result-updates` partition (murmur2 of the order id,
/// as every Kafka client computes it) and the outbox sender to wake for it.
struct ResultRouter: Sendable {
    let partitionCount: Int
    let outbox: OutboxSender

    func partition(of paymentOrderId: String) -> Int32 {
        KafkaPartitioner.partition(forKey: Array(paymentOrderId.utf8), partitionCount: partitionCount)
    }
}
