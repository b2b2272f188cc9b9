/// Bounds on what one Kafka request may name, so a single request cannot make the broker do
/// (or answer) an unbounded amount of work. Kafka itself has no such per-request rules (its
/// frame size bounds them); these are paynode's, with defaults far above what any honest
/// client sends. Pure: the dispatch counts, this decides.
public struct KafkaRequestLimits: Sendable, Hashable {
    /// Partitions one Produce, Fetch or OffsetCommit request may name, and partitions one
    /// CreateTopics request may create in all.
    public var maximumPartitionsPerRequest: Int
    /// Topics one Metadata request may name.
    public var maximumTopicsPerRequest: Int
    /// Partitions one topic may have (CreateTopics, auto-creation).
    public var maximumPartitionsPerTopic: Int

    public init(maximumPartitionsPerRequest: Int = 10_000, maximumTopicsPerRequest: Int = 1000, maximumPartitionsPerTopic: Int = 1000) {
        self.maximumPartitionsPerRequest = maximumPartitionsPerRequest
        self.maximumTopicsPerRequest = maximumTopicsPerRequest
        self.maximumPartitionsPerTopic = maximumPartitionsPerTopic
    }

    /// Nil when a request naming `partitions` partitions may run, else the refusal message.
    public func refusePartitions(_ partitions: Int, api: String) -> String? {
        guard partitions > maximumPartitionsPerRequest else { return nil }
        return "\(api) request names \(partitions) partitions; the most one request may name is \(maximumPartitionsPerRequest)"
    }

    /// The verdict for each topic of a CreateTopics request, in order: partition counts (after
    /// the default for -1) are checked against the per-topic limit, and the request's running
    /// total against the per-request one, so the topics that fit are created and the rest
    /// refused.
    public enum CreateVerdict: Sendable, Hashable {
        case create
        /// INVALID_PARTITIONS: this topic alone is too big.
        case tooManyForTopic(String)
        /// POLICY_VIOLATION: the request has already used its budget.
        case overRequestBudget(String)
    }

    public func createTopics(partitionCounts: [Int]) -> [CreateVerdict] {
        var total = 0
        return partitionCounts.map { count in
            if count > maximumPartitionsPerTopic {
                return .tooManyForTopic("\(count) partitions is more than the most a topic may have, \(maximumPartitionsPerTopic)")
            }
            // Non-positive counts are the store's to refuse (INVALID_PARTITIONS) and take nothing.
            let counted = max(count, 0)
            guard total + counted <= maximumPartitionsPerRequest else {
                return .overRequestBudget("the request creates more than \(maximumPartitionsPerRequest) partitions in all")
            }
            total += counted
            return .create
        }
    }
}
