import NIOCore
import Testing
@testable import Protocol

@Suite("Kafka listener limits")
struct ConnectionLimiterTests {
    @Test func perAddressAndListenerLimits() {
        var limiter = ConnectionLimiter(maximumConnections: 3, maximumConnectionsPerAddress: 2)
        #expect(limiter.acquire(address: "a") == .accept)
        #expect(limiter.acquire(address: "a") == .accept)
        #expect(limiter.acquire(address: "a") == .addressFull(limit: 2))
        #expect(limiter.acquire(address: "b") == .accept)
        #expect(limiter.acquire(address: "c") == .listenerFull(limit: 3))
        #expect(limiter.open == 3)
        limiter.release(address: "a")
        #expect(limiter.acquire(address: "c") == .accept)
        // Refused connections took no slot, and the map forgets closed addresses.
        limiter.release(address: "c")
        limiter.release(address: "b")
        #expect(limiter.openByAddress == ["a": 1])
        #expect(limiter.open == 1)
    }

    @Test func releaseOfUnknownAddressIsHarmless() {
        var limiter = ConnectionLimiter(maximumConnections: 1, maximumConnectionsPerAddress: 1)
        limiter.release(address: "never")
        #expect(limiter.open == 0)
        #expect(limiter.acquire(address: "x") == .accept)
    }
}

@Suite("Kafka frame tracker")
struct KafkaFrameTrackerTests {
    private func bytes(_ values: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: values) }

    @Test func tracksFramesSplitAnywhere() {
        var tracker = KafkaFrameTracker()
        #expect(!tracker.isInsideFrame)
        // Frame of 3 bytes, delivered as: 2 size bytes | 2 size bytes + 1 body | 2 body + next size start.
        tracker.observe(bytes([0, 0]))
        #expect(tracker.isInsideFrame)
        tracker.observe(bytes([0, 3, 9]))
        #expect(tracker.isInsideFrame)
        tracker.observe(bytes([9, 9, 0]))
        #expect(tracker.completedFrames == 1)
        #expect(tracker.isInsideFrame)
        tracker.observe(bytes([0, 0, 1, 7]))
        #expect(tracker.completedFrames == 2)
        #expect(!tracker.isInsideFrame)
    }

    @Test func hugeClaimedSizeStaysInsideFrameWithoutTrapping() {
        var tracker = KafkaFrameTracker()
        tracker.observe(bytes([0x7F, 0xFF, 0xFF, 0xFF, 1, 2]))
        #expect(tracker.isInsideFrame)
        var negative = KafkaFrameTracker()
        negative.observe(bytes([0xFF, 0xFF, 0xFF, 0xFF]))
        #expect(!negative.isInsideFrame)
    }

    @Test func manyFramesInOneBuffer() {
        var tracker = KafkaFrameTracker()
        tracker.observe(bytes([0, 0, 0, 1, 5, 0, 0, 0, 0, 0, 0, 0, 2, 1, 1]))
        #expect(tracker.completedFrames == 3)
        #expect(!tracker.isInsideFrame)
    }
}

@Suite("Group retention")
struct GroupRetentionTests {
    private let day: Int64 = 86_400_000
    private func activity(_ id: String, members: Bool = false, commit: Int64? = nil, empty: Int64? = nil) -> GroupRetention.Activity {
        .init(groupId: id, hasMembers: members, newestCommitMilliseconds: commit, emptySinceMilliseconds: empty)
    }

    @Test func expiresOnlyIdleEmptyUnprotectedGroups() {
        let now = 30 * day
        let groups = [
            activity("old", commit: now - 8 * day),
            activity("recent", commit: now - 6 * day),
            activity("live", members: true, commit: now - 20 * day),
            activity("payment-service", commit: now - 20 * day),
            activity("emptied-lately", commit: now - 20 * day, empty: now - day),
            activity("unknown"),
            activity("exactly", commit: now - 7 * day),
        ]
        let expired = GroupRetention.expired(groups, now: now, retentionMilliseconds: 7 * day, protected: ["payment-service"])
        #expect(expired == ["old", "exactly"])
    }

    @Test func clockExtremesDoNotTrap() {
        let group = activity("g", commit: .min)
        #expect(!GroupRetention.isExpired(group, now: .max, retentionMilliseconds: day, protected: []))
        let future = activity("f", commit: .max)
        #expect(!GroupRetention.isExpired(future, now: 0, retentionMilliseconds: day, protected: []))
    }
}

@Suite("Consumer group size limits")
struct ConsumerGroupLimitTests {
    private func request(_ memberId: String, metadata: Int = 4) -> ConsumerGroup.JoinRequest {
        .init(memberId: memberId, clientId: "c", clientHost: "/127.0.0.1", sessionTimeoutMilliseconds: 10_000,
              rebalanceTimeoutMilliseconds: 30_000, protocolType: "consumer",
              protocols: [(name: "range", metadata: ByteBuffer(repeating: 1, count: metadata))], requiresKnownMemberId: true)
    }

    @Test func newMembersStopAtMaximumIncludingPending() {
        var group = ConsumerGroup(groupId: "g", configuration: .init(initialRebalanceDelayMilliseconds: 100, maximumMembers: 2))
        var counter = 0
        var codes: [Int16] = []
        for _ in 0..<3 {
            let (outcome, _) = group.join(request(""), token: 1, newMemberId: { counter += 1; return "m\(counter)" }, now: 1000)
            guard case .answer(let result) = outcome else { Issue.record("expected an answer"); return }
            codes.append(result.errorCode)
        }
        #expect(codes == [KafkaErrorCode.memberIdRequired.rawValue, KafkaErrorCode.memberIdRequired.rawValue,
                          KafkaErrorCode.groupMaxSizeReached.rawValue])
    }

    @Test func oversizedProtocolMetadataIsRefused() {
        var group = ConsumerGroup(groupId: "g", configuration: .init(maximumMemberMetadataBytes: 100))
        let (outcome, _) = group.join(request("", metadata: 200), token: 1, newMemberId: { "m" }, now: 1000)
        guard case .answer(let result) = outcome else { Issue.record("expected an answer"); return }
        #expect(result.errorCode == KafkaErrorCode.invalidRequest.rawValue)
        #expect(group.members.isEmpty && group.pendingMembers.isEmpty)
        let (fits, _) = group.join(request("", metadata: 50), token: 2, newMemberId: { "m" }, now: 1000)
        guard case .answer(let ok) = fits else { Issue.record("expected an answer"); return }
        #expect(ok.errorCode == KafkaErrorCode.memberIdRequired.rawValue)
    }
}

@Suite("Kafka request limits")
struct KafkaRequestLimitsTests {
    @Test func partitionsPerRequest() {
        let limits = KafkaRequestLimits(maximumPartitionsPerRequest: 10)
        #expect(limits.refusePartitions(10, api: "Produce") == nil)
        let message = limits.refusePartitions(11, api: "Fetch")
        #expect(message?.contains("11 partitions") == true && message?.contains("10") == true)
    }

    @Test func createTopicsSpendsTheRequestBudgetInOrder() {
        let limits = KafkaRequestLimits(maximumPartitionsPerRequest: 10, maximumPartitionsPerTopic: 6)
        let verdicts = limits.createTopics(partitionCounts: [4, 7, 6, 1, 0, -5, 1])
        #expect(verdicts[0] == .create)
        guard case .tooManyForTopic = verdicts[1] else { Issue.record("7 > 6 per topic: \(verdicts[1])"); return }
        #expect(verdicts[2] == .create)
        guard case .overRequestBudget = verdicts[3] else { Issue.record("4 + 6 + 1 > 10: \(verdicts[3])"); return }
        // Invalid counts are left to the store's check and spend nothing.
        #expect(verdicts[4] == .create && verdicts[5] == .create)
        guard case .overRequestBudget = verdicts[6] else { Issue.record("budget spent: \(verdicts[6])"); return }
    }
}
