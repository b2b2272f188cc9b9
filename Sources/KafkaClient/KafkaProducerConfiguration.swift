import Protocol

/// How a `KafkaProducer` batches, acknowledges and retries.
public struct KafkaProducerConfiguration: Sendable {
    public enum Acks: Int16, Sendable {
        /// No response: offsets come back as -1 and errors go unnoticed.
        case none = 0
        /// The leader wrote the batch.
        case leader = 1
        /// Every in-sync replica wrote the batch (required for idempotence).
        case all = -1
    }

    public var acks: Acks
    /// Producer id + per-partition sequence numbers, so that retries are deduplicated by the broker.
    public var idempotent: Bool
    /// How long a record may wait for more records to share its batch.
    public var linger: Duration
    public var maxBatchRecords: Int
    /// Estimated encoded bytes per batch (a larger single record still goes, alone).
    public var maxBatchBytes: Int
    /// `.none` or `.gzip`.
    public var compression: CompressionCodec
    public var requestTimeout: Duration
    /// How long a batch is retried (retriable errors only) before its sends fail.
    public var deliveryTimeout: Duration
    public var retryBackoff: KafkaBackoff

    public init(acks: Acks = .all, idempotent: Bool = true, linger: Duration = .milliseconds(5),
                maxBatchRecords: Int = 10_000, maxBatchBytes: Int = 1 << 20, compression: CompressionCodec = .none,
                requestTimeout: Duration = .seconds(30), deliveryTimeout: Duration = .seconds(120),
                retryBackoff: KafkaBackoff = KafkaBackoff(initial: .milliseconds(100), maximum: .seconds(1))) {
        self.acks = acks
        self.idempotent = idempotent
        self.linger = linger
        self.maxBatchRecords = maxBatchRecords
        self.maxBatchBytes = maxBatchBytes
        self.compression = compression
        self.requestTimeout = requestTimeout
        self.deliveryTimeout = deliveryTimeout
        self.retryBackoff = retryBackoff
    }

    func validate() throws(KafkaClientError) {
        if idempotent, acks != .all {
            throw KafkaClientError(.invalidArgument, "an idempotent producer needs acks=all (-1), not \(acks.rawValue)")
        }
        guard maxBatchRecords >= 1, maxBatchBytes >= 1 else {
            throw KafkaClientError(.invalidArgument, "batch limits must be positive (records \(maxBatchRecords), bytes \(maxBatchBytes))")
        }
        guard compression == .none || compression == .gzip else {
            throw KafkaClientError(.invalidArgument, "compression \(compression) is not supported; use none or gzip")
        }
    }
}
