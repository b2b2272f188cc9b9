import Foundation
import Logging
import LogStore
import NIOCore
import Protocol
import ServiceLifecycle
import Synchronization

/// The broker side of consumer groups: one `ConsumerGroup` state machine per group, parked
/// JoinGroup/SyncGroup requests as continuations, a ticker for session and rebalance timeouts,
/// and persistence of each group's generation and stable membership in the log store (table
/// `groups`), so groups survive a broker restart.
final class GroupCoordinator: Service {
    static let tableName = "groups"

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
    }

    private let state = Mutex(State())
    private let store: LogStore
    private let configuration: ConsumerGroup.Configuration
    private let logger: Logger
    private let persistQueue: AsyncStream<(String, ConsumerGroup.Snapshot)>.Continuation
    private let persistStream: AsyncStream<(String, ConsumerGroup.Snapshot)>

    init(store: LogStore, configuration: ConsumerGroup.Configuration, logger: Logger) throws {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        (persistStream, persistQueue) = AsyncStream.makeStream()
        let now = Self.now()
        let snapshots: [(String, ConsumerGroup.Snapshot)] = try store.read { transaction in
            guard let table = transaction.table(Self.tableName) else { return [] }
            return try table.scan().compactMap { key, value in
                guard let snapshot = try? JSONDecoder().decode(ConsumerGroup.Snapshot.self, from: Data(value)) else { return nil }
                return (String(decoding: key, as: UTF8.self), snapshot)
            }
        }
        state.withLock { state in
            for (groupId, snapshot) in snapshots {
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
    func run() async throws {
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

    // MARK: Requests

    func join(_ request: JoinGroupRequest, version: Int16, clientId: String, clientHost: String) async -> JoinGroupResponse {
        guard !request.groupId.isEmpty else { return JoinGroupResponse(errorCode: KafkaErrorCode.invalidGroupId.rawValue, memberId: request.memberId) }
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
