/// The topics and consumer group of the payment pipeline (shared notes, contract.md).
public enum PaymentTopics {
    public static let paymentOrders = "payment-orders"
    public static let pspResultUpdates = "psp-result-updates"
    public static let paymentEvents = "payment-events"
    public static let deadLetters = "psp-result-updates.dlq"
    public static let consumerGroup = "payment-service"

    public static let all = [paymentOrders, pspResultUpdates, paymentEvents, deadLetters]
}

/// Headers a dead-letter record carries besides the original ones, saying why and from where
/// (Kafka Connect's errors.deadletterqueue.context.headers, in paynode's names).
public enum DeadLetterHeaders {
    public static let reason = "paynode-dlq-reason"
    public static let sourceTopic = "paynode-dlq-source-topic"
    public static let sourcePartition = "paynode-dlq-source-partition"
    public static let sourceOffset = "paynode-dlq-source-offset"
}
