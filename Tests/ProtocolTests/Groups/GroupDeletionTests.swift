import NIOCore
import Protocol
import Testing

/// DeleteGroups' and OffsetDelete's decisions, without a broker.
@Suite struct GroupDeletionTests {
    private func facts(_ id: String = "app", members: Bool = false, type: String? = nil, subscribed: Set<String>? = [],
                       exists: Bool = true, protected: Bool = false) -> GroupDeletion.Facts {
        .init(groupId: id, hasMembers: members, protocolType: type, subscribedTopics: subscribed, exists: exists, isProtected: protected)
    }

    @Test func onlyAnExistingGroupWithoutMembersIsDeleted() {
        #expect(GroupDeletion.deleteGroup(facts()) == .none)
        #expect(GroupDeletion.deleteGroup(facts(members: true, type: "consumer")) == .nonEmptyGroup)
        #expect(GroupDeletion.deleteGroup(facts(exists: false)) == .groupIdNotFound)
        #expect(GroupDeletion.deleteGroup(facts("")) == .invalidGroupId)
        // The node's own group (payment-service) is never a client's to delete, even when its
        // consumer holds no membership in the coordinator.
        #expect(GroupDeletion.deleteGroup(facts("payment-service", protected: true)) == .nonEmptyGroup)
    }

    @Test func offsetsOfSubscribedTopicsStayWhileMembersConsumeThem() {
        let topics: Set<String> = ["orders", "refunds"]
        #expect(GroupDeletion.deleteOffsets(facts(), topics: topics) == .delete(keep: []))
        #expect(GroupDeletion.deleteOffsets(facts(members: true, type: "consumer", subscribed: ["orders"]), topics: topics)
                == .delete(keep: ["orders"]))
        // A subscription that cannot be read keeps every topic named.
        #expect(GroupDeletion.deleteOffsets(facts(members: true, type: "consumer", subscribed: nil), topics: topics)
                == .delete(keep: topics))
        #expect(GroupDeletion.deleteOffsets(facts(members: true, type: "connect"), topics: topics) == .refuse(.nonEmptyGroup))
        #expect(GroupDeletion.deleteOffsets(facts(exists: false), topics: topics) == .refuse(.groupIdNotFound))
        #expect(GroupDeletion.deleteOffsets(facts(protected: true), topics: topics) == .refuse(.nonEmptyGroup))
        #expect(GroupDeletion.deleteOffsets(facts(""), topics: topics) == .refuse(.invalidGroupId))
    }

    @Test func subscriptionsAreReadFromMemberMetadata() {
        let a = ConsumerProtocolSubscription(version: 0, topics: ["orders"]).encoded()
        let b = ConsumerProtocolSubscription(version: 0, topics: ["refunds", "orders"]).encoded()
        #expect(GroupDeletion.subscribedTopics([a, b]) == ["orders", "refunds"])
        #expect(GroupDeletion.subscribedTopics([a, ByteBuffer(bytes: [0x00])]) == nil)
        #expect(GroupDeletion.subscribedTopics([]) == [])
    }
}
