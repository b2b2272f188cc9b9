import LogStore
import Protocol

/// JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups and ListGroups, answered by the
/// group coordinator.
extension KafkaBroker {
    func joinGroup(_ request: JoinGroupRequest, header: KafkaRequestHeader, peer: String) async -> JoinGroupResponse {
        let response = await coordinator.join(request, version: header.apiVersion, clientId: header.clientId ?? "", clientHost: peer)
        countRequest(.joinGroup, error: KafkaErrorCode(rawValue: response.errorCode) ?? .unknownServerError)
        return response
    }

    func syncGroup(_ request: SyncGroupRequest) async -> SyncGroupResponse {
        let response = await coordinator.sync(request)
        countRequest(.syncGroup, error: KafkaErrorCode(rawValue: response.errorCode) ?? .unknownServerError)
        return response
    }

    func heartbeat(_ request: HeartbeatRequest) -> HeartbeatResponse {
        let response = coordinator.heartbeat(request)
        countRequest(.heartbeat, error: KafkaErrorCode(rawValue: response.errorCode) ?? .unknownServerError)
        return response
    }

    func leaveGroup(_ request: LeaveGroupRequest, version: Int16) -> LeaveGroupResponse {
        let response = coordinator.leave(request, version: version)
        countRequest(.leaveGroup, error: KafkaErrorCode(rawValue: response.errorCode) ?? .unknownServerError)
        return response
    }

    /// A group named more than once is described once: the response stays bounded by the number
    /// of distinct groups, however long the request's list is.
    func describeGroups(_ request: DescribeGroupsRequest, session: KafkaSession) -> DescribeGroupsResponse {
        let storedGroups = Set((try? store.read { try $0.groups() }) ?? [])
        var named = Set<String>()
        let distinctNames = request.groups.filter { named.insert($0).inserted }
        let groups = distinctNames.map { groupId -> DescribeGroupsResponse.DescribedGroup in
            guard authorized(session, .describe, .group(groupId)) else {
                return .init(errorCode: Self.groupDenied, groupId: groupId, groupState: "", protocolType: "", protocolData: "", members: [])
            }
            guard let view = coordinator.view(groupId) else {
                // Known only by its committed offsets: Kafka reports such a group as Empty.
                let state = storedGroups.contains(groupId) ? "Empty" : "Dead"
                return .init(errorCode: 0, groupId: groupId, groupState: state, protocolType: storedGroups.contains(groupId) ? "consumer" : "",
                             protocolData: "", members: [])
            }
            return .init(errorCode: 0, groupId: groupId, groupState: view.state.rawValue, protocolType: view.protocolType,
                         protocolData: view.protocolName, members: view.members.map { member in
                .init(memberId: member.memberId, groupInstanceId: member.groupInstanceId, clientId: member.clientId,
                      clientHost: member.clientHost,
                      memberMetadata: member.protocols.first { $0.name == view.protocolName }?.metadata ?? .init(),
                      memberAssignment: member.assignment)
            })
        }
        countRequest(.describeGroups, error: .none)
        return DescribeGroupsResponse(groups: groups)
    }

    /// With DESCRIBE on the cluster every group; otherwise the groups the principal may describe.
    func listGroups(session: KafkaSession) -> ListGroupsResponse {
        var groups: [String: String] = [:]
        for groupId in (try? store.read { try $0.groups() }) ?? [] { groups[groupId] = "consumer" }
        for groupId in coordinator.groupIds { groups[groupId] = coordinator.view(groupId)?.protocolType ?? "consumer" }
        if !access.authorize(session, .describe, .cluster) {
            groups = groups.filter { access.authorize(session, .describe, .group($0.key)) }
        }
        countRequest(.listGroups, error: .none)
        return ListGroupsResponse(groups: groups.keys.sorted().map { .init(groupId: $0, protocolType: groups[$0]!.isEmpty ? "consumer" : groups[$0]!) })
    }
}
