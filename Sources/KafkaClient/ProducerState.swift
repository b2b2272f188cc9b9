/// An idempotent producer's identity and sequence numbers: what a process must keep to resume
/// producing as the same producer after a restart (so that re-sent batches are deduplicated
/// by the broker rather than appended twice). `producerId` -1 means "not assigned yet".
public struct ProducerState: Sendable, Hashable, Codable {
    public var producerId: Int64
    public var producerEpoch: Int16
    /// The sequence number the next batch to each partition starts with.
    public var nextSequences: [KafkaTopicPartition: Int32]

    public init(producerId: Int64 = -1, producerEpoch: Int16 = -1, nextSequences: [KafkaTopicPartition: Int32] = [:]) {
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.nextSequences = nextSequences
    }

    public var hasProducerId: Bool { producerId >= 0 }

    public func nextSequence(for partition: KafkaTopicPartition) -> Int32 {
        nextSequences[partition] ?? 0
    }

    /// Reserves `count` sequence numbers for `partition` and returns the first; like Kafka's
    /// `DefaultRecordBatch.incrementSequence`, sequences wrap from Int32.max to 0.
    public mutating func reserveSequences(_ count: Int32, for partition: KafkaTopicPartition) -> Int32 {
        let base = nextSequence(for: partition)
        nextSequences[partition] = Self.increment(base, by: count)
        return base
    }

    public static func increment(_ sequence: Int32, by increment: Int32) -> Int32 {
        if sequence > Int32.max - increment { return increment - (Int32.max - sequence) - 1 }
        return sequence + increment
    }

    private enum CodingKeys: String, CodingKey {
        case producerId, producerEpoch, sequences
    }

    private struct Entry: Codable {
        var topic: String
        var partition: Int32
        var nextSequence: Int32
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        producerId = try container.decode(Int64.self, forKey: .producerId)
        producerEpoch = try container.decode(Int16.self, forKey: .producerEpoch)
        let entries = try container.decode([Entry].self, forKey: .sequences)
        nextSequences = Dictionary(entries.map { (KafkaTopicPartition($0.topic, $0.partition), $0.nextSequence) },
                                   uniquingKeysWith: { first, _ in first })
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(producerId, forKey: .producerId)
        try container.encode(producerEpoch, forKey: .producerEpoch)
        let entries = nextSequences.keys.sorted().map {
            Entry(topic: $0.topic, partition: $0.partition, nextSequence: nextSequences[$0]!)
        }
        try container.encode(entries, forKey: .sequences)
    }
}
