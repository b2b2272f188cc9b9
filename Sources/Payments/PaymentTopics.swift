/// The topics and consumer group of the payment pipeline (shared notes, contract.md).
public enum PaymentTopics {
    public static let paymentOrders = "payment-orders"
    public static let pspResultUpdates = "psp-result-updates"
    public static let paymentEvents = "payment-events"
    /// The service's dead letters: results (and anything else in `psp-result-updates`) it cannot
    /// apply. Only the service writes it.
    public static let deadLetters = "psp-result-updates.dlq"
    /// The executor's dead letters: records of `payment-orders` it cannot decode. A topic of its
    /// own, so that the service's DLQ has one writer and a dead letter's topic says who wrote it.
    public static let orderDeadLetters = "payment-orders.dlq"
    public static let consumerGroup = "payment-service"

    public static let all = [paymentOrders, pspResultUpdates, paymentEvents, deadLetters, orderDeadLetters]
}

/// Headers a dead-letter record carries besides the original ones, saying why and from where
/// (Kafka Connect's errors.deadletterqueue.context.headers, in paynode's names).
public enum DeadLetterHeaders {
    public static let reason = "paynode-dlq-reason"
    public static let sourceTopic = "paynode-dlq-source-topic"
    public static let sourcePartition = "paynode-dlq-source-partition"
    public static let sourceOffset = "paynode-dlq-source-offset"
    /// The last source offset the dead letter covers: equal to `sourceOffset` for one record,
    /// the batch's last offset for a whole undecodable batch.
    public static let sourceLastOffset = "paynode-dlq-source-last-offset"
    /// Length and SHA-256 (hex) of the whole original value (the batch's bytes for a batch).
    public static let valueLength = "paynode-dlq-value-length"
    public static let valueSha256 = "paynode-dlq-value-sha256"
    /// Present when the dead letter is cut (`DeadLetter`): which of value, key, headers.
    public static let truncated = "paynode-dlq-truncated"
}
