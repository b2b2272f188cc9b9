import NIOCore

/// Kafka's classic group membership protocol for one group, as a pure state machine: no clocks,
/// no sockets. Callers pass the time in and get back what to answer; parked JoinGroup and
/// SyncGroup requests are identified by caller-chosen tokens and completed through `Completion`s.
///
/// States and transitions follow Kafka's GroupCoordinator: Empty -> PreparingRebalance (a join)
/// -> CompletingRebalance (every member rejoined, or the rebalance timeout passed) -> Stable (the
/// leader's SyncGroup) -> PreparingRebalance (a join, leave or expired session) ... -> Empty (no
/// members left).
public struct ConsumerGroup: Sendable {
    public enum State: String, Sendable, Hashable, Codable {
        case empty = "Empty"
        case preparingRebalance = "PreparingRebalance"
        case completingRebalance = "CompletingRebalance"
        case stable = "Stable"
        case dead = "Dead"
    }

    public struct Configuration: Sendable, Hashable {
        /// Kafka's group.initial.rebalance.delay.ms: wait this long after the first member of an
        /// empty group joins, so that members starting together land in one generation.
        public var initialRebalanceDelayMilliseconds: Int64
        public var minimumSessionTimeoutMilliseconds: Int64
        public var maximumSessionTimeoutMilliseconds: Int64
        /// Kafka's group.max.size: members plus member ids handed out and not yet used. A join
        /// that would pass it gets GROUP_MAX_SIZE_REACHED.
        public var maximumMembers: Int
        /// Protocol names plus metadata one member may register: the coordinator keeps them in
        /// memory and sends every member's to the leader, so an unbounded one is a memory and
        /// response-size lever. A join over it gets INVALID_REQUEST.
        public var maximumMemberMetadataBytes: Int

        public init(initialRebalanceDelayMilliseconds: Int64 = 3000, minimumSessionTimeoutMilliseconds: Int64 = 6000,
                    maximumSessionTimeoutMilliseconds: Int64 = 1_800_000, maximumMembers: Int = .max,
                    maximumMemberMetadataBytes: Int = .max) {
            self.initialRebalanceDelayMilliseconds = initialRebalanceDelayMilliseconds
            self.minimumSessionTimeoutMilliseconds = minimumSessionTimeoutMilliseconds
            self.maximumSessionTimeoutMilliseconds = maximumSessionTimeoutMilliseconds
            self.maximumMembers = maximumMembers
            self.maximumMemberMetadataBytes = maximumMemberMetadataBytes
        }
    }

    public struct Member: Sendable, Hashable {
        public var memberId: String
        public var groupInstanceId: String?
        public var clientId: String
        public var clientHost: String
        public var sessionTimeoutMilliseconds: Int64
        public var rebalanceTimeoutMilliseconds: Int64
        /// (protocol name, metadata), in the member's order of preference.
        public var protocols: [(name: String, metadata: ByteBuffer)]
        public var assignment: ByteBuffer
        public var lastHeartbeatMilliseconds: Int64
        /// Tokens of this member's parked requests.
        var awaitingJoin: UInt64?
        var awaitingSync: UInt64?

        public static func == (lhs: Member, rhs: Member) -> Bool {
            lhs.memberId == rhs.memberId && lhs.groupInstanceId == rhs.groupInstanceId && lhs.clientId == rhs.clientId
                && lhs.sessionTimeoutMilliseconds == rhs.sessionTimeoutMilliseconds && lhs.assignment == rhs.assignment
                && lhs.protocols.map(\.name) == rhs.protocols.map(\.name) && lhs.protocols.map(\.metadata) == rhs.protocols.map(\.metadata)
        }

        public func hash(into hasher: inout Hasher) { hasher.combine(memberId) }

        func metadata(for protocolName: String) -> ByteBuffer {
            protocols.first { $0.name == protocolName }?.metadata ?? ByteBuffer()
        }
    }

    public struct JoinRequest: Sendable {
        public var memberId: String
        public var groupInstanceId: String?
        public var clientId: String
        public var clientHost: String
        public var sessionTimeoutMilliseconds: Int64
        public var rebalanceTimeoutMilliseconds: Int64
        public var protocolType: String
        public var protocols: [(name: String, metadata: ByteBuffer)]
        /// JoinGroup v4+ clients expect MEMBER_ID_REQUIRED for a first join.
        public var requiresKnownMemberId: Bool

        public init(memberId: String, groupInstanceId: String? = nil, clientId: String, clientHost: String,
                    sessionTimeoutMilliseconds: Int64, rebalanceTimeoutMilliseconds: Int64, protocolType: String,
                    protocols: [(name: String, metadata: ByteBuffer)], requiresKnownMemberId: Bool) {
            self.memberId = memberId
            self.groupInstanceId = groupInstanceId
            self.clientId = clientId
            self.clientHost = clientHost
            self.sessionTimeoutMilliseconds = sessionTimeoutMilliseconds
            self.rebalanceTimeoutMilliseconds = rebalanceTimeoutMilliseconds
            self.protocolType = protocolType
            self.protocols = protocols
            self.requiresKnownMemberId = requiresKnownMemberId
        }
    }

    public struct JoinResult: Sendable, Hashable {
        public var errorCode: Int16
        public var generationId: Int32
        public var protocolName: String
        public var leaderId: String
        public var memberId: String
        /// Filled for the leader only: every member and its metadata for the chosen protocol.
        public var members: [MemberMetadata]

        public struct MemberMetadata: Sendable, Hashable {
            public var memberId: String
            public var groupInstanceId: String?
            public var metadata: ByteBuffer
        }

        public init(errorCode: Int16, generationId: Int32, protocolName: String, leaderId: String, memberId: String,
                    members: [MemberMetadata]) {
            self.errorCode = errorCode
            self.generationId = generationId
            self.protocolName = protocolName
            self.leaderId = leaderId
            self.memberId = memberId
            self.members = members
        }

        static func error(_ code: KafkaErrorCode, memberId: String = "") -> JoinResult {
            JoinResult(errorCode: code.rawValue, generationId: -1, protocolName: "", leaderId: "", memberId: memberId, members: [])
        }
    }

    public struct SyncResult: Sendable, Hashable {
        public var errorCode: Int16
        public var assignment: ByteBuffer

        public init(errorCode: Int16, assignment: ByteBuffer) {
            self.errorCode = errorCode
            self.assignment = assignment
        }

        static func error(_ code: KafkaErrorCode) -> SyncResult { SyncResult(errorCode: code.rawValue, assignment: ByteBuffer()) }
    }

    /// A parked request to answer now.
    public enum Completion: Sendable, Hashable {
        case join(token: UInt64, JoinResult)
        case sync(token: UInt64, SyncResult)
    }

    /// What a request gets: an answer now, or nothing until a later `Completion` names its token.
    public enum Outcome<Result: Sendable & Hashable>: Sendable, Hashable {
        case answer(Result)
        case parked
    }

    public let groupId: String
    public let configuration: Configuration
    public private(set) var state: State = .empty
    public private(set) var generationId: Int32 = 0
    public private(set) var protocolType: String?
    public private(set) var protocolName: String?
    public private(set) var leaderId: String?
    public private(set) var members: [String: Member] = [:]
    /// Member ids handed out with MEMBER_ID_REQUIRED, not yet joined, with their expiry.
    public private(set) var pendingMembers: [String: Int64] = [:]
    /// When the current join phase ends even if not every member rejoined.
    public private(set) var rebalanceDeadlineMilliseconds: Int64?
    /// Join order, so the first member to join leads.
    private var joinOrder: [String] = []
    /// Set while the first join phase after Empty waits out the initial rebalance delay.
    private var initialDelayStartedAt: Int64?

    public init(groupId: String, configuration: Configuration = Configuration()) {
        self.groupId = groupId
        self.configuration = configuration
    }

    // MARK: JoinGroup

    public mutating func join(_ request: JoinRequest, token: UInt64, newMemberId: () -> String, now: Int64)
        -> (outcome: Outcome<JoinResult>, completions: [Completion]) {
        guard state != .dead else { return (.answer(.error(.coordinatorNotAvailable)), []) }
        guard request.sessionTimeoutMilliseconds >= configuration.minimumSessionTimeoutMilliseconds,
              request.sessionTimeoutMilliseconds <= configuration.maximumSessionTimeoutMilliseconds else {
            return (.answer(.error(.invalidSessionTimeout, memberId: request.memberId)), [])
        }
        guard !request.protocolType.isEmpty, !request.protocols.isEmpty, isCompatible(request) else {
            return (.answer(.error(.inconsistentGroupProtocol, memberId: request.memberId)), [])
        }
        let metadataBytes = request.protocols.reduce(0) { $0 &+ $1.name.utf8.count &+ $1.metadata.readableBytes }
        guard metadataBytes <= configuration.maximumMemberMetadataBytes else {
            return (.answer(.error(.invalidRequest, memberId: request.memberId)), [])
        }
        expirePendingMembers(now: now)
        var memberId = request.memberId
        if memberId.isEmpty {
            // A new member takes a slot now (pending ones count too, or repeated first joins
            // could grow the pending list without bound).
            guard members.count + pendingMembers.count < configuration.maximumMembers else {
                return (.answer(.error(.groupMaxSizeReached)), [])
            }
            memberId = newMemberId()
            if request.requiresKnownMemberId {
                pendingMembers[memberId] = now + request.sessionTimeoutMilliseconds
                return (.answer(.error(.memberIdRequired, memberId: memberId)), [])
            }
        } else if members[memberId] == nil, pendingMembers[memberId] == nil {
            return (.answer(.error(.unknownMemberId, memberId: memberId)), [])
        }
        pendingMembers[memberId] = nil

        var completions: [Completion] = []
        if var existing = members[memberId] {
            let unchanged = existing.protocols.map(\.name) == request.protocols.map(\.name)
                && existing.protocols.map(\.metadata) == request.protocols.map(\.metadata)
            // A follower rejoining with the same metadata outside a rebalance just gets the
            // current generation back (Kafka does the same); anything else starts a rebalance.
            if unchanged, memberId != leaderId, state == .stable || state == .completingRebalance {
                existing.lastHeartbeatMilliseconds = now
                members[memberId] = existing
                return (.answer(joinResult(for: memberId)), [])
            }
            if let parked = existing.awaitingJoin {
                // A retried join replaces the earlier one, which is told to rejoin.
                completions.append(.join(token: parked, .error(.rebalanceInProgress, memberId: memberId)))
            }
            existing.protocols = request.protocols
            existing.sessionTimeoutMilliseconds = request.sessionTimeoutMilliseconds
            existing.rebalanceTimeoutMilliseconds = request.rebalanceTimeoutMilliseconds
            existing.clientId = request.clientId
            existing.clientHost = request.clientHost
            existing.awaitingJoin = token
            existing.lastHeartbeatMilliseconds = now
            members[memberId] = existing
        } else {
            members[memberId] = Member(memberId: memberId, groupInstanceId: request.groupInstanceId, clientId: request.clientId,
                                       clientHost: request.clientHost, sessionTimeoutMilliseconds: request.sessionTimeoutMilliseconds,
                                       rebalanceTimeoutMilliseconds: request.rebalanceTimeoutMilliseconds,
                                       protocols: request.protocols, assignment: ByteBuffer(), lastHeartbeatMilliseconds: now,
                                       awaitingJoin: token, awaitingSync: nil)
            joinOrder.append(memberId)
        }
        if protocolType == nil { protocolType = request.protocolType }

        switch state {
        case .empty:
            state = .preparingRebalance
            // The initial delay lets members that start together join one generation.
            initialDelayStartedAt = now
            rebalanceDeadlineMilliseconds = now + min(configuration.initialRebalanceDelayMilliseconds, request.rebalanceTimeoutMilliseconds)
        case .stable, .completingRebalance:
            completions += prepareRebalance(now: now)
        case .preparingRebalance:
            if let started = initialDelayStartedAt {
                // Each newcomer extends the delay, never past the rebalance timeout (as Kafka).
                let cap = started + (members.values.map(\.rebalanceTimeoutMilliseconds).max() ?? 0)
                rebalanceDeadlineMilliseconds = min(now + configuration.initialRebalanceDelayMilliseconds, cap)
            }
        case .dead:
            break
        }
        completions += completeJoinIfReady(now: now)
        if let answered = completions.firstIndex(where: { if case .join(token, _) = $0 { true } else { false } }),
           case .join(_, let result) = completions[answered] {
            completions.remove(at: answered)
            return (.answer(result), completions)
        }
        return (.parked, completions)
    }

    private func isCompatible(_ request: JoinRequest) -> Bool {
        guard let protocolType, !members.isEmpty else { return true }
        guard protocolType == request.protocolType else { return false }
        // Some protocol must be supported by every member, this one included.
        let offered = Set(request.protocols.map(\.name))
        return !candidateProtocols(extra: offered).isEmpty
    }

    private func candidateProtocols(extra: Set<String>? = nil) -> Set<String> {
        var candidates = extra
        for member in members.values {
            let names = Set(member.protocols.map(\.name))
            candidates = candidates.map { $0.intersection(names) } ?? names
        }
        return candidates ?? []
    }

    /// Moves to PreparingRebalance: members must rejoin within the largest rebalance timeout.
    private mutating func prepareRebalance(now: Int64) -> [Completion] {
        var completions: [Completion] = []
        if state == .completingRebalance {
            // Members waiting for assignments of a generation that will not be completed.
            for (id, member) in members {
                if let token = member.awaitingSync {
                    completions.append(.sync(token: token, .error(.rebalanceInProgress)))
                    members[id]?.awaitingSync = nil
                }
            }
        }
        state = .preparingRebalance
        let timeout = members.values.map(\.rebalanceTimeoutMilliseconds).max() ?? 0
        rebalanceDeadlineMilliseconds = now + timeout
        return completions
    }

    /// Ends the join phase once every member has rejoined (after any initial delay) or the
    /// deadline passed: members that did not rejoin are dropped, the generation advances, a
    /// protocol is chosen and every waiting member is answered (the leader with the member list).
    private mutating func completeJoinIfReady(now: Int64) -> [Completion] {
        guard state == .preparingRebalance else { return [] }
        let everyoneRejoined = members.values.allSatisfy { $0.awaitingJoin != nil }
        let deadlinePassed = rebalanceDeadlineMilliseconds.map { now >= $0 } ?? true
        guard deadlinePassed || (everyoneRejoined && initialDelayStartedAt == nil) else { return [] }
        initialDelayStartedAt = nil
        for (id, member) in members where member.awaitingJoin == nil {
            members[id] = nil
        }
        joinOrder.removeAll { members[$0] == nil }
        generationId &+= 1
        rebalanceDeadlineMilliseconds = nil
        guard !members.isEmpty else {
            toEmpty()
            return []
        }
        protocolName = selectProtocol()
        if leaderId == nil || members[leaderId!] == nil {
            leaderId = joinOrder.first
        }
        state = .completingRebalance
        var completions: [Completion] = []
        for (id, member) in members {
            members[id]?.assignment = ByteBuffer()
            if let token = member.awaitingJoin {
                completions.append(.join(token: token, joinResult(for: id)))
                members[id]?.awaitingJoin = nil
            }
        }
        return completions
    }

    /// Kafka's vote: among protocols every member supports, each member votes for its most
    /// preferred; the most votes win (ties to the leader's order).
    private func selectProtocol() -> String? {
        let candidates = candidateProtocols()
        var votes: [String: Int] = [:]
        for member in members.values {
            if let choice = member.protocols.first(where: { candidates.contains($0.name) })?.name {
                votes[choice, default: 0] += 1
            }
        }
        let order = (joinOrder.first.flatMap { members[$0] }?.protocols.map(\.name) ?? []).filter { candidates.contains($0) }
        return order.max { (votes[$0] ?? 0, -(order.firstIndex(of: $0) ?? 0)) < (votes[$1] ?? 0, -(order.firstIndex(of: $1) ?? 0)) }
    }

    private func joinResult(for memberId: String) -> JoinResult {
        let name = protocolName ?? ""
        let isLeader = memberId == leaderId
        let list = isLeader ? joinOrder.compactMap { members[$0] }.map {
            JoinResult.MemberMetadata(memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, metadata: $0.metadata(for: name))
        } : []
        return JoinResult(errorCode: 0, generationId: generationId, protocolName: name, leaderId: leaderId ?? "",
                          memberId: memberId, members: list)
    }

    private mutating func toEmpty() {
        state = .empty
        initialDelayStartedAt = nil
        leaderId = nil
        protocolName = nil
        protocolType = nil
        rebalanceDeadlineMilliseconds = nil
    }

    // MARK: SyncGroup

    public mutating func sync(memberId: String, generationId: Int32, assignments: [String: ByteBuffer], token: UInt64, now: Int64)
        -> (outcome: Outcome<SyncResult>, completions: [Completion]) {
        guard var member = members[memberId] else { return (.answer(.error(.unknownMemberId)), []) }
        guard generationId == self.generationId else { return (.answer(.error(.illegalGeneration)), []) }
        member.lastHeartbeatMilliseconds = now
        switch state {
        case .empty, .dead:
            return (.answer(.error(.unknownMemberId)), [])
        case .preparingRebalance:
            members[memberId] = member
            return (.answer(.error(.rebalanceInProgress)), [])
        case .stable:
            members[memberId] = member
            return (.answer(SyncResult(errorCode: 0, assignment: member.assignment)), [])
        case .completingRebalance:
            var completions: [Completion] = []
            if let earlier = member.awaitingSync {
                completions.append(.sync(token: earlier, .error(.rebalanceInProgress)))
            }
            member.awaitingSync = token
            members[memberId] = member
            guard memberId == leaderId else { return (.parked, completions) }
            // The leader's assignment, passed through as opaque bytes, completes the generation.
            for id in members.keys {
                members[id]?.assignment = assignments[id] ?? ByteBuffer()
            }
            state = .stable
            var answer: SyncResult?
            for (id, waiting) in members {
                guard let parked = waiting.awaitingSync else { continue }
                let result = SyncResult(errorCode: 0, assignment: waiting.assignment)
                members[id]?.awaitingSync = nil
                if parked == token { answer = result } else { completions.append(.sync(token: parked, result)) }
            }
            return (answer.map { .answer($0) } ?? .parked, completions)
        }
    }

    // MARK: Heartbeat, LeaveGroup, time

    public mutating func heartbeat(memberId: String, generationId: Int32, now: Int64) -> KafkaErrorCode {
        guard state != .dead else { return .coordinatorNotAvailable }
        guard members[memberId] != nil else { return .unknownMemberId }
        members[memberId]?.lastHeartbeatMilliseconds = now
        guard generationId == self.generationId else { return .illegalGeneration }
        switch state {
        case .preparingRebalance, .completingRebalance: return .rebalanceInProgress
        case .stable: return .none
        case .empty, .dead: return .unknownMemberId
        }
    }

    /// Removes members; the rest rebalance at once.
    public mutating func leave(memberIds: [String], now: Int64) -> (errors: [String: KafkaErrorCode], completions: [Completion]) {
        var errors: [String: KafkaErrorCode] = [:]
        var removed: [String] = []
        for id in memberIds {
            if members[id] != nil { removed.append(id); errors[id] = KafkaErrorCode.none } else { errors[id] = .unknownMemberId }
        }
        return (errors, remove(removed, now: now))
    }

    /// Expires members whose session ran out and pending member ids nobody used, and ends join
    /// phases whose deadline passed. Call it regularly (every 100 ms or so).
    public mutating func tick(now: Int64) -> [Completion] {
        expirePendingMembers(now: now)
        // Members waiting in a join are covered by the rebalance deadline, not their session.
        let expired = members.values.filter { $0.awaitingJoin == nil && now - $0.lastHeartbeatMilliseconds > $0.sessionTimeoutMilliseconds }
            .map(\.memberId)
        var completions = remove(expired, now: now)
        completions += completeJoinIfReady(now: now)
        return completions
    }

    private mutating func remove(_ ids: [String], now: Int64) -> [Completion] {
        guard !ids.isEmpty else { return [] }
        var completions: [Completion] = []
        for id in ids {
            guard let member = members.removeValue(forKey: id) else { continue }
            if let token = member.awaitingJoin { completions.append(.join(token: token, .error(.unknownMemberId, memberId: id))) }
            if let token = member.awaitingSync { completions.append(.sync(token: token, .error(.unknownMemberId))) }
        }
        joinOrder.removeAll { members[$0] == nil }
        if members.isEmpty {
            if state != .empty { generationId &+= 1 }
            toEmpty()
            return completions
        }
        switch state {
        case .stable, .completingRebalance:
            completions += prepareRebalance(now: now)
        case .preparingRebalance:
            completions += completeJoinIfReady(now: now)
        case .empty, .dead:
            break
        }
        return completions
    }

    private mutating func expirePendingMembers(now: Int64) {
        pendingMembers = pendingMembers.filter { $0.value > now }
    }

    // MARK: Offsets

    /// Kafka's rules for OffsetCommit against this group: commits from outside any generation
    /// (assign()-mode consumers, admin tools) only while the group has no members; otherwise the
    /// member and generation must be current and the group not mid-rebalance.
    public func validateOffsetCommit(memberId: String, generationId: Int32) -> KafkaErrorCode {
        if generationId < 0 && memberId.isEmpty {
            return state == .empty ? .none : .unknownMemberId
        }
        guard state != .dead else { return .coordinatorNotAvailable }
        guard members[memberId] != nil else { return .unknownMemberId }
        guard generationId == self.generationId else { return .illegalGeneration }
        return state == .completingRebalance ? .rebalanceInProgress : .none
    }

    // MARK: Persistence

    /// What survives a coordinator restart: the generation (so it never goes back) and, for a
    /// stable group, its members and assignments, so they carry on heartbeating.
    public struct Snapshot: Sendable, Hashable, Codable {
        public struct StoredMember: Sendable, Hashable, Codable {
            public var memberId: String
            public var groupInstanceId: String?
            public var clientId: String
            public var clientHost: String
            public var sessionTimeoutMilliseconds: Int64
            public var rebalanceTimeoutMilliseconds: Int64
            public var protocols: [StoredProtocol]
            public var assignment: [UInt8]
        }

        public struct StoredProtocol: Sendable, Hashable, Codable {
            public var name: String
            public var metadata: [UInt8]
        }

        public var generationId: Int32
        public var state: State
        public var protocolType: String?
        public var protocolName: String?
        public var leaderId: String?
        public var members: [StoredMember]
    }

    public var snapshot: Snapshot {
        let stable = state == .stable
        return Snapshot(
            generationId: generationId, state: stable ? .stable : .empty, protocolType: stable ? protocolType : nil,
            protocolName: stable ? protocolName : nil, leaderId: stable ? leaderId : nil,
            members: stable ? joinOrder.compactMap { members[$0] }.map { member in
                .init(memberId: member.memberId, groupInstanceId: member.groupInstanceId, clientId: member.clientId,
                      clientHost: member.clientHost, sessionTimeoutMilliseconds: member.sessionTimeoutMilliseconds,
                      rebalanceTimeoutMilliseconds: member.rebalanceTimeoutMilliseconds,
                      protocols: member.protocols.map { .init(name: $0.name, metadata: Array($0.metadata.readableBytesView)) },
                      assignment: Array(member.assignment.readableBytesView))
            } : [])
    }

    /// Restores a snapshot; members' sessions restart now.
    public init(groupId: String, configuration: Configuration = Configuration(), snapshot: Snapshot, now: Int64) {
        self.init(groupId: groupId, configuration: configuration)
        generationId = snapshot.generationId
        guard snapshot.state == .stable, !snapshot.members.isEmpty else { return }
        state = .stable
        protocolType = snapshot.protocolType
        protocolName = snapshot.protocolName
        leaderId = snapshot.leaderId
        for stored in snapshot.members {
            members[stored.memberId] = Member(
                memberId: stored.memberId, groupInstanceId: stored.groupInstanceId, clientId: stored.clientId,
                clientHost: stored.clientHost, sessionTimeoutMilliseconds: stored.sessionTimeoutMilliseconds,
                rebalanceTimeoutMilliseconds: stored.rebalanceTimeoutMilliseconds,
                protocols: stored.protocols.map { (name: $0.name, metadata: ByteBuffer(bytes: $0.metadata)) },
                assignment: ByteBuffer(bytes: stored.assignment), lastHeartbeatMilliseconds: now, awaitingJoin: nil, awaitingSync: nil)
            joinOrder.append(stored.memberId)
        }
    }
}
