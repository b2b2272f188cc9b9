import Foundation
import Logging
import LogStore
import NIOCore
import Protocol
import ServiceLifecycle
import Synchronization
import Telemetry

/// The broker side of consumer groups: one `ConsumerGroup` state machine per group, parked
/// JoinGroup/SyncGroup requests as continuations, a ticker for session and rebalance timeouts,
/// and persistence of each group's generation and stable membership in the log store (table
/// `groups`), so groups survive a broker restart.
package final class GroupCoordinator: Service {
    static let tableName = "broker.groups"

    private enum Waiter {
        case join(CheckedContinuation<ConsumerGroup.JoinResult, Never>)
        case sync(CheckedContinuation<ConsumerGroup.SyncResult, Never>)
    }

    private struct State {
        var groups: [String: ConsumerGroup] = [:]
        var waiters: [UInt64: Waiter] = [:]
        var nextToken: UInt64 = 0
        /// What was last persisted per group, to write only on change.
        var persisted: [String: ConsumerGroup.Snapshot] = [:]
        /// Every group the node holds (in memory or by committed offsets), against maximumGroups.
        var knownGroups: Set<String> = []
        /// Groups admitted since the current retention pass read the store, which its recount
        /// of knownGroups must keep.
        var admittedDuringPass: Set<String> = []
        /// When each in-memory group was first seen without members (for retention).
        var emptySince: [String: Int64] = [:]
    }

    /// Node-wide group limits (per-group ones are in `ConsumerGroup.Configuration`).
    package struct Limits: Sendable {
        /// Groups per node; a new group beyond it is refused (POLICY_VIOLATION).
        package var maximumGroups: Int = .max
        /// Kafka's offsets.retention.minutes: empty groups idle this long lose their offsets.
        package var offsetsRetentionMilliseconds: Int64 = 7 * 24 * 60 * 60 * 1000
        /// Kafka's offsets.retention.check.interval.ms.
        package var retentionCheckIntervalMilliseconds: Int64 = 600_000
        /// Groups that never expire: the ones the node itself consumes as.
        package var protectedGroups: Set<String> = []
        /// Expired groups deleted per pass at most, so one pass never makes a huge transaction.
        package var expiriesPerPass = 1000

        package init() {}
    }

    private let state = Mutex(State())
    private let store: LogStore
    private let configuration: ConsumerGroup.Configuration
    let limits: Limits
    private let logger: Logger
    private let rejections: RateLimitedLogger
    private let persistQueue: AsyncStream<(String, ConsumerGroup.Snapshot)>.Continuation
    private let persistStream: AsyncStream<(String, ConsumerGroup.Snapshot)>

    package init(store: LogStore, configuration: ConsumerGroup.Configuration, limits: Limits = Limits(), logger: Logger) throws {
        self.store = store
        self.configuration = configuration
        self.limits = limits
        self.logger = logger
        self.rejections = RateLimitedLogger(logger: logger)
        (persistStream, persistQueue) = AsyncStream.makeStream()
        let now = Self.now()
        let snapshots: [(String, ConsumerGroup.Snapshot)] = try store.read { transaction in
            guard let table = transaction.table(Self.tableName) else { return [] }
            return try table.scan().compactMap { key, value in
                guard let snapshot = try? JSONDecoder().decode(ConsumerGroup.Snapshot.self, from: Data(value)) else { return nil }
                return (String(decoding: key, as: UTF8.self), snapshot)
            }
        }
        let storedGroups = try store.read { try $0.groups() }
        state.withLock { state in
            state.knownGroups.formUnion(storedGroups)
            for (groupId, snapshot) in snapshots {
                state.knownGroups.insert(groupId)
                state.groups[groupId] = ConsumerGroup(groupId: groupId, configuration: configuration, snapshot: snapshot, now: now)
                state.persisted[groupId] = snapshot
            }
        }
        if !snapshots.isEmpty {
            logger.info("restored consumer groups", metadata: ["groups": "\(snapshots.count)"])
        }
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Runs the timers and persists group changes until the node shuts down.
    package func run() async throws {
        await cancelWhenGracefulShutdown { await self.runLoops() }
    }

    private func runLoops() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.persistChanges() }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                    self.tick()
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(self.limits.retentionCheckIntervalMilliseconds))
                    guard !Task.isCancelled else { break }
                    await self.expireGroups(now: Self.now())
                }
            }
            await group.next()
            group.cancelAll()
            self.persistQueue.finish()
        }
    }

    private func persistChanges() async {
        for await (groupId, snapshot) in persistStream {
            do {
                let bytes = Array(try JSONEncoder().encode(snapshot))
                try await store.write { transaction in
                    // Written in queue order; a group deleted (or changed again) since this
                    // snapshot was queued has nothing or a newer one to write.
                    guard self.state.withLock({ $0.persisted[groupId] == snapshot }) else { return }
                    try transaction.table(Self.tableName).put(Array(groupId.utf8), bytes)
                }
            } catch {
                logger.error("cannot persist group", metadata: ["group": "\(groupId)", "error": "\(error)"])
            }
        }
    }

    private func tick() {
        let now = Self.now()
        let completions = state.withLock { state -> [(Waiter, ConsumerGroup.Completion)] in
            var all: [ConsumerGroup.Completion] = []
            for groupId in Array(state.groups.keys) {
                let before = (state.groups[groupId]!.state, state.groups[groupId]!.generationId)
                all += state.groups[groupId]!.tick(now: now)
                // The persisted snapshot only changes with the state or the generation; most
                // ticks change neither, so skip building it.
                if before != (state.groups[groupId]!.state, state.groups[groupId]!.generationId) {
                    noteChange(groupId, &state)
                }
                if state.groups[groupId].map(Self.hasMembers) ?? false {
                    state.emptySince[groupId] = nil
                } else if state.emptySince[groupId] == nil {
                    state.emptySince[groupId] = now
                }
            }
            return take(all, &state)
        }
        resume(completions)
    }

    /// Queues a snapshot write when the group's persisted view changed. Called under the lock.
    private func noteChange(_ groupId: String, _ state: inout State) {
        guard let group = state.groups[groupId] else { return }
        let snapshot = group.snapshot
        guard state.persisted[groupId] != snapshot else { return }
        state.persisted[groupId] = snapshot
        persistQueue.yield((groupId, snapshot))
    }

    private func take(_ completions: [ConsumerGroup.Completion], _ state: inout State) -> [(Waiter, ConsumerGroup.Completion)] {
        completions.compactMap { completion in
            let token: UInt64
            switch completion {
            case .join(let t, _), .sync(let t, _): token = t
            }
            return state.waiters.removeValue(forKey: token).map { ($0, completion) }
        }
    }

    private func resume(_ completions: [(Waiter, ConsumerGroup.Completion)]) {
        for (waiter, completion) in completions {
            switch (waiter, completion) {
            case (.join(let continuation), .join(_, let result)): continuation.resume(returning: result)
            case (.sync(let continuation), .sync(_, let result)): continuation.resume(returning: result)
            case (.join(let continuation), .sync): continuation.resume(returning: ConsumerGroup.JoinResult(
                errorCode: KafkaErrorCode.unknownServerError.rawValue, generationId: -1, protocolName: "", leaderId: "", memberId: "", members: []))
            case (.sync(let continuation), .join): continuation.resume(returning: .init(errorCode: KafkaErrorCode.unknownServerError.rawValue, assignment: ByteBuffer()))
            }
        }
    }

    private static func hasMembers(_ group: ConsumerGroup) -> Bool {
        !group.members.isEmpty || !group.pendingMembers.isEmpty
    }

    // MARK: Limits and retention

    /// Whether `groupId` may exist: known groups and protected ones always, a new one only
    /// below maximumGroups (it is then counted). Called before a join or commit creates a group.
    func admitGroup(_ groupId: String) -> Bool {
        let admitted = state.withLock { state -> Bool in
            if state.knownGroups.contains(groupId) || limits.protectedGroups.contains(groupId) {
                state.knownGroups.insert(groupId)
                return true
            }
            guard state.knownGroups.count < limits.maximumGroups else { return false }
            state.knownGroups.insert(groupId)
            state.admittedDuringPass.insert(groupId)
            return true
        }
        if !admitted {
            rejections.warning(key: "max-groups", "refused a new consumer group: the node holds the most groups it may",
                               metadata: ["group": "\(groupId)", "limit": "\(limits.maximumGroups)"])
        }
        return admitted
    }

    var knownGroupCount: Int { state.withLock { $0.knownGroups.count } }

    /// One retention pass (Kafka's offsets.retention.minutes): groups without members whose
    /// last activity is older than the retention lose their committed offsets and their
    /// persisted membership, each in one write transaction that re-checks the decision, so a
    /// commit racing the pass keeps the group. Returns the groups deleted.
    @discardableResult
    func expireGroups(now: Int64) async -> [String] {
        let retention = limits.offsetsRetentionMilliseconds
        let memory = state.withLock { state in
            state.admittedDuringPass.removeAll()
            return state.groups.map { (groupId: $0.key, hasMembers: Self.hasMembers($0.value), emptySince: state.emptySince[$0.key]) }
        }
        let newestCommits: [String: Int64]
        do {
            newestCommits = try store.read { transaction in
                var newest: [String: Int64] = [:]
                for groupId in try transaction.groups() {
                    newest[groupId] = try transaction.committedOffsets(group: groupId).values.map(\.commitTimestampMilliseconds).max()
                }
                return newest
            }
        } catch {
            logger.error("group retention pass cannot read offsets", metadata: ["error": "\(error)"])
            return []
        }
        var activities: [String: GroupRetention.Activity] = [:]
        for (groupId, newest) in newestCommits {
            activities[groupId] = .init(groupId: groupId, hasMembers: false, newestCommitMilliseconds: newest, emptySinceMilliseconds: nil)
        }
        for entry in memory {
            activities[entry.groupId, default: .init(groupId: entry.groupId, hasMembers: false, newestCommitMilliseconds: nil,
                                                     emptySinceMilliseconds: nil)].hasMembers = entry.hasMembers
            activities[entry.groupId]?.emptySinceMilliseconds = entry.emptySince
        }
        let expired = GroupRetention.expired(activities.values.sorted { $0.groupId < $1.groupId }, now: now,
                                             retentionMilliseconds: retention, protected: limits.protectedGroups)
        var deleted: [String] = []
        for groupId in expired.prefix(limits.expiriesPerPass) {
            let cutoff = now &- retention
            do {
                let removed = try await store.write { transaction -> Bool in
                    // Re-checked inside the transaction, serialised with commits: any commit
                    // since the decision, or a member that joined, keeps the group.
                    let offsets = try transaction.committedOffsets(group: groupId)
                    guard offsets.values.allSatisfy({ $0.commitTimestampMilliseconds <= cutoff }),
                          !self.groupHasMembers(groupId) else { return false }
                    try transaction.deleteCommittedOffsets(group: groupId)
                    try transaction.table(Self.tableName).delete(Array(groupId.utf8))
                    return true
                }
                guard removed else { continue }
                forget(groupId)
                deleted.append(groupId)
            } catch {
                logger.error("cannot expire group", metadata: ["group": "\(groupId)", "error": "\(error)"])
            }
        }
        // Recount from what exists, so ids admitted for requests that then created nothing
        // (a commit to an unknown topic, say) stop counting against maximumGroups.
        state.withLock { state in
            state.knownGroups = Set(newestCommits.keys).subtracting(deleted).union(state.groups.keys).union(state.admittedDuringPass)
        }
        if !deleted.isEmpty {
            logger.info("expired idle consumer groups", metadata: ["groups": "\(deleted.count)", "first": "\(deleted[0])",
                                                                  "retentionMs": "\(retention)"])
        }
        return deleted
    }

    private func groupHasMembers(_ groupId: String) -> Bool {
        state.withLock { state in state.groups[groupId].map(Self.hasMembers) ?? false }
    }

    /// Drops a deleted group from memory, unless a member joined since the store let it go
    /// (it then lives on as a new group without offsets).
    private func forget(_ groupId: String) {
        state.withLock { state in
            if let group = state.groups[groupId], Self.hasMembers(group) { return }
            state.groups[groupId] = nil
            state.persisted[groupId] = nil
            state.emptySince[groupId] = nil
            state.knownGroups.remove(groupId)
        }
    }

    // MARK: Deletion (DeleteGroups, OffsetDelete)

    /// What `GroupDeletion` decides on, as the coordinator sees the group now; `stored` says
    /// whether the store holds offsets or membership for it.
    private func deletionFacts(_ groupId: String, stored: Bool) -> GroupDeletion.Facts {
        state.withLock { state in
            let group = state.groups[groupId]
            let hasMembers = group.map(Self.hasMembers) ?? false
            var subscribed: Set<String>? = []
            if let group, hasMembers {
                let chosen = group.protocolName
                subscribed = GroupDeletion.subscribedTopics(group.members.values.map { member in
                    member.protocols.first { $0.name == chosen }?.metadata ?? ByteBuffer()
                })
            }
            return GroupDeletion.Facts(groupId: groupId, hasMembers: hasMembers, protocolType: group?.protocolType,
                                       subscribedTopics: subscribed, exists: stored || group != nil,
                                       isProtected: limits.protectedGroups.contains(groupId))
        }
    }

    private func isStored(_ groupId: String, in transaction: WriteTransaction) throws -> Bool {
        try transaction.hasCommittedOffsets(group: groupId)
            || transaction.table(Self.tableName).get(Array(groupId.utf8)) != nil
    }

    /// DeleteGroups for one group: its committed offsets and persisted membership go in one
    /// write transaction that decides with what the store holds at that moment, serialised with
    /// commits. Throws only for storage failures.
    func deleteGroup(_ groupId: String) async throws -> KafkaErrorCode {
        guard !groupId.isEmpty else { return .invalidGroupId }
        let code = try await store.write { transaction -> KafkaErrorCode in
            let verdict = GroupDeletion.deleteGroup(self.deletionFacts(groupId, stored: try self.isStored(groupId, in: transaction)))
            guard verdict == .none else { return verdict }
            try transaction.deleteCommittedOffsets(group: groupId)
            _ = try transaction.table(Self.tableName).delete(Array(groupId.utf8))
            return .none
        }
        if code == .none {
            forget(groupId)
            logger.info("deleted consumer group", metadata: ["group": "\(groupId)"])
        }
        return code
    }

    /// OffsetDelete: the committed offsets of `partitions` go, except those of topics a live
    /// member subscribes to. Returns the verdict applied.
    func deleteOffsets(groupId: String, partitions: [TopicPartition]) async throws -> GroupDeletion.OffsetVerdict {
        guard !groupId.isEmpty else { return .refuse(.invalidGroupId) }
        let topics = Set(partitions.map(\.topic))
        let verdict = try await store.write { transaction -> GroupDeletion.OffsetVerdict in
            let facts = self.deletionFacts(groupId, stored: try self.isStored(groupId, in: transaction))
            let verdict = GroupDeletion.deleteOffsets(facts, topics: topics)
            guard case .delete(let keep) = verdict else { return verdict }
            for partition in partitions where !keep.contains(partition.topic) {
                try transaction.deleteCommittedOffset(group: groupId, topic: partition.topic, partition: partition.partition)
            }
            return verdict
        }
        if case .delete(let keep) = verdict {
            logger.info("deleted committed offsets", metadata: ["group": "\(groupId)", "partitions": "\(partitions.count)",
                                                              "kept topics": "\(keep.sorted())"])
        }
        return verdict
    }

    // MARK: Requests

    func join(_ request: JoinGroupRequest, version: Int16, clientId: String, clientHost: String) async -> JoinGroupResponse {
        guard !request.groupId.isEmpty else { return JoinGroupResponse(errorCode: KafkaErrorCode.invalidGroupId.rawValue, memberId: request.memberId) }
        guard admitGroup(request.groupId) else {
            return JoinGroupResponse(errorCode: KafkaErrorCode.policyViolation.rawValue, memberId: request.memberId)
        }
        let joinRequest = ConsumerGroup.JoinRequest(
            memberId: request.memberId, groupInstanceId: request.groupInstanceId, clientId: clientId, clientHost: clientHost,
            sessionTimeoutMilliseconds: Int64(request.sessionTimeoutMs), rebalanceTimeoutMilliseconds: Int64(request.rebalanceTimeoutMs),
            protocolType: request.protocolType, protocols: request.protocols.map { (name: $0.name, metadata: $0.metadata) },
            requiresKnownMemberId: version >= 4)
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<ConsumerGroup.JoinResult, Never>) in
            let now = Self.now()
            let (answer, completions) = state.withLock { state -> (ConsumerGroup.JoinResult?, [(Waiter, ConsumerGroup.Completion)]) in
                state.nextToken += 1
                let token = state.nextToken
                var group = state.groups[request.groupId] ?? ConsumerGroup(groupId: request.groupId, configuration: configuration)
                let (outcome, completions) = group.join(joinRequest, token: token, newMemberId: { "\(clientId)-\(UUID().uuidString.lowercased())" }, now: now)
                state.groups[request.groupId] = group
                var answer: ConsumerGroup.JoinResult?
                switch outcome {
                case .answer(let result): answer = result
                case .parked: state.waiters[token] = .join(continuation)
                }
                noteChange(request.groupId, &state)
                return (answer, take(completions, &state))
            }
            resume(completions)
            if let answer { continuation.resume(returning: answer) }
        }
        if result.errorCode == KafkaErrorCode.groupMaxSizeReached.rawValue {
            rejections.warning(key: "group-max-size", "refused a member: the group is full",
                               metadata: ["group": "\(request.groupId)", "limit": "\(configuration.maximumMembers)", "client": "\(clientHost)"])
        } else if result.errorCode == KafkaErrorCode.invalidRequest.rawValue {
            rejections.warning(key: "group-member-metadata", "refused a member: its protocol metadata is over the limit",
                               metadata: ["group": "\(request.groupId)", "limit": "\(configuration.maximumMemberMetadataBytes)",
                                          "client": "\(clientHost)"])
        }
        if result.errorCode == 0 {
            logger.info("member joined group", metadata: ["group": "\(request.groupId)", "member": "\(result.memberId)",
                                                         "generation": "\(result.generationId)", "leader": "\(result.leaderId == result.memberId)"])
        }
        return JoinGroupResponse(errorCode: result.errorCode, generationId: result.generationId, protocolName: result.protocolName,
                                 leader: result.leaderId, memberId: result.memberId,
                                 members: result.members.map { .init(memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, metadata: $0.metadata) })
    }

    func sync(_ request: SyncGroupRequest) async -> SyncGroupResponse {
        let assignments = Dictionary(request.assignments.map { ($0.memberId, $0.assignment) }, uniquingKeysWith: { _, last in last })
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<ConsumerGroup.SyncResult, Never>) in
            let now = Self.now()
            let (answer, completions) = state.withLock { state -> (ConsumerGroup.SyncResult?, [(Waiter, ConsumerGroup.Completion)]) in
                guard var group = state.groups[request.groupId] else {
                    return (.init(errorCode: KafkaErrorCode.unknownMemberId.rawValue, assignment: ByteBuffer()), [])
                }
                state.nextToken += 1
                let token = state.nextToken
                let (outcome, completions) = group.sync(memberId: request.memberId, generationId: request.generationId,
                                                        assignments: assignments, token: token, now: now)
                state.groups[request.groupId] = group
                var answer: ConsumerGroup.SyncResult?
                switch outcome {
                case .answer(let result): answer = result
                case .parked: state.waiters[token] = .sync(continuation)
                }
                noteChange(request.groupId, &state)
                return (answer, take(completions, &state))
            }
            resume(completions)
            if let answer { continuation.resume(returning: answer) }
        }
        return SyncGroupResponse(errorCode: result.errorCode, assignment: result.assignment)
    }

    func heartbeat(_ request: HeartbeatRequest) -> HeartbeatResponse {
        let now = Self.now()
        let code = state.withLock { state -> KafkaErrorCode in
            guard var group = state.groups[request.groupId] else { return .unknownMemberId }
            let code = group.heartbeat(memberId: request.memberId, generationId: request.generationId, now: now)
            state.groups[request.groupId] = group
            return code
        }
        return HeartbeatResponse(errorCode: code.rawValue)
    }

    func leave(_ request: LeaveGroupRequest, version: Int16) -> LeaveGroupResponse {
        let leaving = request.leavingMembers(version: version)
        let now = Self.now()
        let (errors, completions) = state.withLock { state -> ([String: KafkaErrorCode], [(Waiter, ConsumerGroup.Completion)]) in
            guard var group = state.groups[request.groupId] else {
                return (Dictionary(leaving.map { ($0.memberId, KafkaErrorCode.unknownMemberId) }, uniquingKeysWith: { a, _ in a }), [])
            }
            let (errors, completions) = group.leave(memberIds: leaving.map(\.memberId), now: now)
            state.groups[request.groupId] = group
            noteChange(request.groupId, &state)
            return (errors, take(completions, &state))
        }
        resume(completions)
        logger.info("members left group", metadata: ["group": "\(request.groupId)", "members": "\(leaving.map(\.memberId))"])
        let members = leaving.map { LeaveGroupResponse.MemberResponse(memberId: $0.memberId, groupInstanceId: $0.groupInstanceId,
                                                                        errorCode: (errors[$0.memberId] ?? .unknownMemberId).rawValue) }
        // v0-2 answer one error for the single member.
        let topError = version < 3 ? (errors[request.memberId] ?? .unknownMemberId) : .none
        return LeaveGroupResponse(errorCode: topError.rawValue, members: members)
    }

    func validateOffsetCommit(groupId: String, memberId: String, generationId: Int32) -> KafkaErrorCode {
        state.withLock { state in
            guard let group = state.groups[groupId] else {
                return generationId < 0 && memberId.isEmpty ? .none : .unknownMemberId
            }
            return group.validateOffsetCommit(memberId: memberId, generationId: generationId)
        }
    }

    struct GroupView {
        var state: ConsumerGroup.State
        var protocolType: String
        var protocolName: String
        var members: [ConsumerGroup.Member]
    }

    func view(_ groupId: String) -> GroupView? {
        state.withLock { state in
            state.groups[groupId].map { group in
                GroupView(state: group.state, protocolType: group.protocolType ?? "", protocolName: group.protocolName ?? "",
                          members: group.members.values.sorted { $0.memberId < $1.memberId })
            }
        }
    }

    var groupIds: [String] { state.withLock { Array($0.groups.keys) } }
}
