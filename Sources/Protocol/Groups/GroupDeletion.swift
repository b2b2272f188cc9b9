import NIOCore

/// What DeleteGroups and OffsetDelete may remove, as Kafka's group coordinator decides
/// (`GroupCoordinator.handleDeleteGroups` / `handleDeleteOffsets`). Pure: the caller gathers
/// the facts (members, subscriptions, what is stored) and applies the verdict in one write
/// transaction.
public enum GroupDeletion {
    /// The protocol type Kafka's consumers join with; only theirs has subscriptions the broker reads.
    public static let consumerProtocolType = "consumer"

    public struct Facts: Sendable, Hashable {
        public var groupId: String
        /// Members or member ids handed out: a live group.
        public var hasMembers: Bool
        /// The group's protocol type while it has members ("consumer" for Kafka consumers).
        public var protocolType: String?
        /// The topics its members subscribe to, nil when some member's subscription could not be
        /// read (then every topic counts as subscribed).
        public var subscribedTopics: Set<String>?
        /// The coordinator holds it, or the store holds offsets or membership for it.
        public var exists: Bool
        /// A group the node itself consumes as (`payment-service`): never deleted by a client.
        public var isProtected: Bool

        public init(groupId: String, hasMembers: Bool, protocolType: String? = nil, subscribedTopics: Set<String>? = [],
                    exists: Bool, isProtected: Bool = false) {
            self.groupId = groupId
            self.hasMembers = hasMembers
            self.protocolType = protocolType
            self.subscribedTopics = subscribedTopics
            self.exists = exists
            self.isProtected = isProtected
        }
    }

    /// DeleteGroups for one group: only an existing group without members goes. A protected
    /// group answers NON_EMPTY_GROUP: the node itself is its consumer.
    public static func deleteGroup(_ facts: Facts) -> KafkaErrorCode {
        guard !facts.groupId.isEmpty else { return .invalidGroupId }
        guard !facts.isProtected, !facts.hasMembers else { return .nonEmptyGroup }
        guard facts.exists else { return .groupIdNotFound }
        return .none
    }

    public enum OffsetVerdict: Sendable, Hashable {
        /// The whole request is refused with this code.
        case refuse(KafkaErrorCode)
        /// Delete the offsets of every topic not in `keep`; those in it answer
        /// GROUP_SUBSCRIBED_TO_TOPIC.
        case delete(keep: Set<String>)
    }

    /// OffsetDelete: an empty group loses the offsets named; a live consumer group loses those
    /// of topics none of its members subscribe to; a live group of another protocol (whose
    /// subscriptions the broker cannot read) keeps everything.
    public static func deleteOffsets(_ facts: Facts, topics: Set<String>) -> OffsetVerdict {
        guard !facts.groupId.isEmpty else { return .refuse(.invalidGroupId) }
        guard !facts.isProtected else { return .refuse(.nonEmptyGroup) }
        guard facts.exists else { return .refuse(.groupIdNotFound) }
        guard facts.hasMembers else { return .delete(keep: []) }
        guard facts.protocolType == consumerProtocolType else { return .refuse(.nonEmptyGroup) }
        guard let subscribed = facts.subscribedTopics else { return .delete(keep: topics) }
        return .delete(keep: topics.intersection(subscribed))
    }

    /// The union of the members' subscriptions, read from each member's metadata for the
    /// group's chosen protocol; nil if any of them does not decode.
    public static func subscribedTopics(_ memberMetadata: [ByteBuffer]) -> Set<String>? {
        var topics = Set<String>()
        for metadata in memberMetadata {
            guard let subscription = try? ConsumerProtocolSubscription.decode(metadata) else { return nil }
            topics.formUnion(subscription.topics)
        }
        return topics
    }
}
