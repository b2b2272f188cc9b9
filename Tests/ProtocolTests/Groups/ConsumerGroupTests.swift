import Foundation
import NIOCore
import Testing
@testable import Protocol

@Suite("Consumer group state machine")
struct ConsumerGroupTests {
    static let configuration = ConsumerGroup.Configuration(initialRebalanceDelayMilliseconds: 100,
                                                           minimumSessionTimeoutMilliseconds: 1000,
                                                           maximumSessionTimeoutMilliseconds: 60_000)

    struct Harness {
        var group = ConsumerGroup(groupId: "g", configuration: ConsumerGroupTests.configuration)
        var now: Int64 = 1_000_000
        var nextToken: UInt64 = 0
        var nextId = 0
        var completions: [ConsumerGroup.Completion] = []

        func request(_ memberId: String, protocols: [String] = ["range"], type: String = "consumer",
                     session: Int64 = 10_000, rebalance: Int64 = 30_000, v4: Bool = true) -> ConsumerGroup.JoinRequest {
            .init(memberId: memberId, clientId: "client", clientHost: "/127.0.0.1", sessionTimeoutMilliseconds: session,
                  rebalanceTimeoutMilliseconds: rebalance, protocolType: type,
                  protocols: protocols.map { (name: $0, metadata: ByteBuffer(string: "meta-\($0)")) }, requiresKnownMemberId: v4)
        }

        mutating func join(_ request: ConsumerGroup.JoinRequest) -> (ConsumerGroup.Outcome<ConsumerGroup.JoinResult>, UInt64) {
            nextToken += 1
            let token = nextToken
            var counter = nextId
            let (outcome, completed) = group.join(request, token: token, newMemberId: { counter += 1; return "member-\(counter)" }, now: now)
            nextId = counter
            completions += completed
            return (outcome, token)
        }

        /// A v4 join: MEMBER_ID_REQUIRED, then the rejoin with the id (parked).
        mutating func joinNew(protocols: [String] = ["range"], session: Int64 = 10_000) -> (memberId: String, token: UInt64) {
            let (first, _) = join(request("", protocols: protocols, session: session))
            guard case .answer(let result) = first, result.errorCode == KafkaErrorCode.memberIdRequired.rawValue else {
                Issue.record("expected MEMBER_ID_REQUIRED, got \(first)")
                return ("", 0)
            }
            let (second, token) = join(request(result.memberId, protocols: protocols, session: session))
            #expect(second == .parked)
            return (result.memberId, token)
        }

        mutating func advance(_ milliseconds: Int64) {
            now += milliseconds
            completions += group.tick(now: now)
        }

        mutating func takeJoin(_ token: UInt64) -> ConsumerGroup.JoinResult? {
            guard let index = completions.firstIndex(where: { if case .join(token, _) = $0 { true } else { false } }),
                  case .join(_, let result) = completions.remove(at: index) else { return nil }
            return result
        }

        mutating func takeSync(_ token: UInt64) -> ConsumerGroup.SyncResult? {
            guard let index = completions.firstIndex(where: { if case .sync(token, _) = $0 { true } else { false } }),
                  case .sync(_, let result) = completions.remove(at: index) else { return nil }
            return result
        }

        mutating func sync(_ memberId: String, generation: Int32, assignments: [String: ByteBuffer] = [:])
            -> (ConsumerGroup.Outcome<ConsumerGroup.SyncResult>, UInt64) {
            nextToken += 1
            let (outcome, completed) = group.sync(memberId: memberId, generationId: generation, assignments: assignments,
                                                  token: nextToken, now: now)
            completions += completed
            return (outcome, nextToken)
        }

        /// Two members joined and synced: Stable at generation 1 with A leading.
        mutating func stableWithTwo() -> (a: String, b: String) {
            let a = joinNew()
            let b = joinNew()
            advance(150)
            _ = takeJoin(a.token)
            _ = takeJoin(b.token)
            let (waiting, followerToken) = sync(b.memberId, generation: 1)
            #expect(waiting == .parked)
            let (leader, _) = sync(a.memberId, generation: 1, assignments: [a.memberId: ByteBuffer(string: "A"), b.memberId: ByteBuffer(string: "B")])
            #expect(leader == .answer(.init(errorCode: 0, assignment: ByteBuffer(string: "A"))))
            #expect(takeSync(followerToken) == .init(errorCode: 0, assignment: ByteBuffer(string: "B")))
            #expect(group.state == .stable)
            return (a.memberId, b.memberId)
        }
    }

    @Test func firstJoinNeedsAMemberIdThenWaitsOutTheInitialDelay() {
        var h = Harness()
        let a = h.joinNew()
        #expect(h.group.state == .preparingRebalance)
        h.advance(50)
        #expect(h.takeJoin(a.token) == nil)
        h.advance(60)
        let result = h.takeJoin(a.token)
        #expect(result?.generationId == 1)
        #expect(result?.leaderId == a.memberId)
        #expect(result?.members.map(\.memberId) == [a.memberId])
        #expect(result?.members.first?.metadata == ByteBuffer(string: "meta-range"))
        #expect(h.group.state == .completingRebalance)
    }

    @Test func joinWithoutMemberIdBeforeV4IsAdmittedDirectly() {
        var h = Harness()
        let (outcome, _) = h.join(h.request("", v4: false))
        #expect(outcome == .parked)
        #expect(h.group.members.count == 1)
    }

    @Test func leaderGetsMembersAndItsAssignmentIsPassedThrough() {
        var h = Harness()
        let a = h.joinNew()
        let b = h.joinNew()
        h.advance(150)
        let leader = h.takeJoin(a.token)
        let follower = h.takeJoin(b.token)
        #expect(leader?.members.map(\.memberId) == [a.memberId, b.memberId])
        #expect(follower?.members.isEmpty == true)
        #expect(follower?.leaderId == a.memberId)
        _ = h.stableWithTwoAlreadyJoined(a: a.memberId, b: b.memberId)
    }

    @Test func heartbeatsAnswerPerState() {
        var h = Harness()
        let (a, b) = h.stableWithTwo()
        #expect(h.group.heartbeat(memberId: a, generationId: 1, now: h.now) == .none)
        #expect(h.group.heartbeat(memberId: a, generationId: 0, now: h.now) == .illegalGeneration)
        #expect(h.group.heartbeat(memberId: "stranger", generationId: 1, now: h.now) == .unknownMemberId)
        // A new member starts a rebalance; the others learn it from their heartbeat.
        let c = h.joinNew()
        #expect(h.group.state == .preparingRebalance)
        #expect(h.group.heartbeat(memberId: b, generationId: 1, now: h.now) == .rebalanceInProgress)
        // Everyone rejoins: the join phase completes at once (no initial delay now).
        let (ra, ta) = h.join(h.request(a))
        let (rb, tb) = h.join(h.request(b))
        #expect(ra == .parked)
        if case .answer(let result) = rb {
            #expect(result.generationId == 2)
        } else {
            Issue.record("last rejoin should complete the phase")
        }
        #expect(h.takeJoin(ta)?.generationId == 2)
        #expect(h.takeJoin(c.token)?.generationId == 2)
        _ = tb
        #expect(h.group.leaderId == a)
    }

    @Test func anExpiredSessionRebalancesTheOthers() {
        var h = Harness()
        let (a, b) = h.stableWithTwo()
        for _ in 0..<12 {
            h.advance(1000)
            #expect(h.group.heartbeat(memberId: a, generationId: 1, now: h.now) == (h.group.members[b] == nil ? .rebalanceInProgress : .none))
        }
        #expect(h.group.members[b] == nil)
        #expect(h.group.state == .preparingRebalance)
        let (outcome, _) = h.join(h.request(a))
        guard case .answer(let result) = outcome else { Issue.record("sole member's rejoin should complete"); return }
        #expect(result.generationId == 2 && result.members.map(\.memberId) == [a])
    }

    @Test func leavingRebalancesAtOnceAndTheLastLeaveEmptiesTheGroup() {
        var h = Harness()
        let (a, b) = h.stableWithTwo()
        let (errors, _) = h.group.leave(memberIds: [b, "nobody"], now: h.now)
        #expect(errors == [b: .none, "nobody": .unknownMemberId])
        #expect(h.group.state == .preparingRebalance)
        _ = h.group.leave(memberIds: [a], now: h.now)
        #expect(h.group.state == .empty)
        #expect(h.group.generationId == 2)
        #expect(h.group.validateOffsetCommit(memberId: "", generationId: -1) == .none)
    }

    @Test func membersThatDoNotRejoinInTimeAreDropped() {
        var h = Harness()
        let (a, b) = h.stableWithTwo()
        _ = h.joinNew()
        let (outcome, token) = h.join(h.request(a))
        #expect(outcome == .parked)
        // b keeps heartbeating but never rejoins: the rebalance timeout (30 s) drops it.
        for _ in 0..<31 {
            h.advance(1000)
            _ = h.group.heartbeat(memberId: b, generationId: 1, now: h.now)
        }
        #expect(h.group.members[b] == nil)
        #expect(h.takeJoin(token)?.members.count == 2)
    }

    @Test func offsetCommitsAreCheckedAgainstTheGeneration() {
        var h = Harness()
        let (a, _) = h.stableWithTwo()
        #expect(h.group.validateOffsetCommit(memberId: a, generationId: 1) == .none)
        #expect(h.group.validateOffsetCommit(memberId: a, generationId: 0) == .illegalGeneration)
        #expect(h.group.validateOffsetCommit(memberId: "ghost", generationId: 1) == .unknownMemberId)
        #expect(h.group.validateOffsetCommit(memberId: "", generationId: -1) == .unknownMemberId)
    }

    @Test func incompatibleJoinsAreRefused() {
        var h = Harness()
        _ = h.joinNew(protocols: ["range", "roundrobin"])
        let (differentType, _) = h.join(h.request("", type: "connect"))
        #expect(differentType == .answer(.error(.inconsistentGroupProtocol)))
        let (noCommon, _) = h.join(h.request("", protocols: ["sticky"]))
        #expect(noCommon == .answer(.error(.inconsistentGroupProtocol)))
        let (badSession, _) = h.join(h.request("", session: 10))
        #expect(badSession == .answer(.error(.invalidSessionTimeout)))
        let (unknown, _) = h.join(h.request("made-up-id"))
        #expect(unknown == .answer(.error(.unknownMemberId, memberId: "made-up-id")))
    }

    @Test func theProtocolEveryoneSupportsWinsByVotes() {
        var h = Harness()
        let a = h.joinNew(protocols: ["range", "roundrobin"])
        let b = h.joinNew(protocols: ["roundrobin", "range"])
        let c = h.joinNew(protocols: ["roundrobin"])
        h.advance(150)
        #expect(h.takeJoin(a.token)?.protocolName == "roundrobin")
        #expect(h.takeJoin(b.token)?.protocolName == "roundrobin")
        #expect(h.takeJoin(c.token)?.protocolName == "roundrobin")
    }

    @Test func aSyncFromAStaleGenerationOrDuringAJoinIsRefused() {
        var h = Harness()
        let (a, _) = h.stableWithTwo()
        #expect(h.sync(a, generation: 0).0 == .answer(.error(.illegalGeneration)))
        #expect(h.sync(a, generation: 1).0 == .answer(.init(errorCode: 0, assignment: ByteBuffer(string: "A"))))
        _ = h.joinNew()
        #expect(h.sync(a, generation: 1).0 == .answer(.error(.rebalanceInProgress)))
    }

    @Test func aStableGroupSurvivesARestart() throws {
        var h = Harness()
        let (a, b) = h.stableWithTwo()
        let snapshot = h.group.snapshot
        let encoded = try JSONEncoderForTests.encode(snapshot)
        let decoded = try JSONEncoderForTests.decode(encoded)
        var restored = ConsumerGroup(groupId: "g", configuration: Self.configuration, snapshot: decoded, now: h.now + 5000)
        #expect(restored.state == .stable)
        #expect(restored.generationId == 1)
        #expect(restored.heartbeat(memberId: b, generationId: 1, now: h.now + 5100) == .none)
        let (outcome, _) = restored.sync(memberId: a, generationId: 1, assignments: [:], token: 1, now: h.now + 5100)
        #expect(outcome == .answer(.init(errorCode: 0, assignment: ByteBuffer(string: "A"))))
        // A group that was mid-rebalance restarts empty but keeps its generation.
        _ = h.joinNew()
        let midway = ConsumerGroup(groupId: "g", configuration: Self.configuration, snapshot: h.group.snapshot, now: h.now)
        #expect(midway.state == .empty && midway.generationId == 1)
    }
}

extension ConsumerGroupTests.Harness {
    mutating func stableWithTwoAlreadyJoined(a: String, b: String) -> Bool {
        let (waiting, followerToken) = sync(b, generation: 1)
        #expect(waiting == .parked)
        let (leader, _) = sync(a, generation: 1, assignments: [a: ByteBuffer(string: "A"), b: ByteBuffer(string: "B")])
        #expect(leader == .answer(.init(errorCode: 0, assignment: ByteBuffer(string: "A"))))
        #expect(takeSync(followerToken)?.assignment == ByteBuffer(string: "B"))
        return group.state == .stable
    }
}

enum JSONEncoderForTests {
    static func encode(_ snapshot: ConsumerGroup.Snapshot) throws -> Data { try JSONEncoder().encode(snapshot) }
    static func decode(_ data: Data) throws -> ConsumerGroup.Snapshot { try JSONDecoder().decode(ConsumerGroup.Snapshot.self, from: data) }
}
