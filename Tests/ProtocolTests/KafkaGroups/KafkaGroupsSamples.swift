import NIOCore
import Protocol

/// One sample value per message and version, with every field that exists in that version set
/// to a non-default value (and absent fields at the value decoding gives them). These must match
/// the samples in golden/make_golden.py, which kafka-python encodes into KafkaGroupsGoldenBytes.swift.
enum KafkaGroupsSamples {
    static func bytes(_ values: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: values) }

    static func createTopicsRequest(_ v: Int16) -> CreateTopicsRequest {
        CreateTopicsRequest(
            topics: [
                .init(name: "payments", numPartitions: 3, replicationFactor: 1, assignments: [],
                      configs: [.init(name: "retention.ms", value: "86400000"), .init(name: "cleanup.policy", value: nil)]),
                .init(name: "audit", numPartitions: -1, replicationFactor: -1,
                      assignments: [.init(partitionIndex: 0, brokerIds: [1, 2]), .init(partitionIndex: 1, brokerIds: [2, 3])],
                      configs: []),
            ],
            timeoutMs: 30000, validateOnly: v >= 1)
    }

    static func createTopicsResponse(_ v: Int16) -> CreateTopicsResponse {
        CreateTopicsResponse(
            throttleTimeMs: v >= 2 ? 125 : 0,
            topics: [
                .init(name: "payments", errorCode: 0, errorMessage: nil),
                .init(name: "audit", errorCode: 36, errorMessage: v >= 1 ? "Topic 'audit' already exists." : nil),
            ])
    }

    static func initProducerIdRequest(_ v: Int16) -> InitProducerIdRequest {
        InitProducerIdRequest(transactionalId: v >= 1 ? "txn-7" : nil, transactionTimeoutMs: 60000)
    }

    static func initProducerIdResponse(_ v: Int16) -> InitProducerIdResponse {
        InitProducerIdResponse(throttleTimeMs: 10, errorCode: 0, producerId: 4242, producerEpoch: 3)
    }

    static func findCoordinatorRequest(_ v: Int16) -> FindCoordinatorRequest {
        FindCoordinatorRequest(key: "orders", keyType: v >= 1 ? 1 : 0)
    }

    static func findCoordinatorResponse(_ v: Int16) -> FindCoordinatorResponse {
        FindCoordinatorResponse(throttleTimeMs: v >= 1 ? 7 : 0, errorCode: 0, errorMessage: v >= 1 ? "NONE" : nil,
                                nodeId: 1, host: "127.0.0.1", port: 9092)
    }

    static func offsetCommitRequest(_ v: Int16) -> OffsetCommitRequest {
        let epoch: Int32 = v >= 6 ? 4 : -1
        return OffsetCommitRequest(
            groupId: "orders", generationId: 5, memberId: "consumer-1-abc",
            groupInstanceId: v >= 7 ? "instance-1" : nil,
            retentionTimeMs: (2...4).contains(v) ? 86_400_000 : -1,
            topics: [
                .init(name: "payments", partitions: [
                    .init(partitionIndex: 0, committedOffset: 100, committedLeaderEpoch: epoch, committedMetadata: "meta"),
                    .init(partitionIndex: 1, committedOffset: 200, committedLeaderEpoch: epoch, committedMetadata: nil),
                ]),
                .init(name: "audit", partitions: [
                    .init(partitionIndex: 2, committedOffset: 0, committedLeaderEpoch: -1, committedMetadata: ""),
                ]),
            ])
    }

    static func offsetCommitResponse(_ v: Int16) -> OffsetCommitResponse {
        OffsetCommitResponse(throttleTimeMs: v >= 3 ? 20 : 0, topics: [
            .init(name: "payments", partitions: [.init(partitionIndex: 0, errorCode: 0), .init(partitionIndex: 1, errorCode: 25)]),
        ])
    }

    static func offsetFetchRequest(_ v: Int16) -> OffsetFetchRequest {
        OffsetFetchRequest(groupId: "orders", topics: [
            .init(name: "payments", partitionIndexes: [0, 1, 2]),
            .init(name: "audit", partitionIndexes: []),
        ])
    }

    /// Null topics: every committed offset of the group (v2+).
    static func offsetFetchRequestAll(_ v: Int16) -> OffsetFetchRequest {
        OffsetFetchRequest(groupId: "orders", topics: nil)
    }

    static func offsetFetchResponse(_ v: Int16) -> OffsetFetchResponse {
        OffsetFetchResponse(
            throttleTimeMs: v >= 3 ? 30 : 0,
            topics: [
                .init(name: "payments", partitions: [
                    .init(partitionIndex: 0, committedOffset: 100, committedLeaderEpoch: v >= 5 ? 4 : -1, metadata: "meta", errorCode: 0),
                    .init(partitionIndex: 1, committedOffset: -1, committedLeaderEpoch: -1, metadata: nil, errorCode: 0),
                    .init(partitionIndex: 2, committedOffset: 55, committedLeaderEpoch: -1, metadata: "", errorCode: 3),
                ]),
            ],
            errorCode: v >= 2 ? 16 : 0)
    }

    static func joinGroupRequest(_ v: Int16) -> JoinGroupRequest {
        JoinGroupRequest(
            groupId: "orders", sessionTimeoutMs: 10000, rebalanceTimeoutMs: v >= 1 ? 300_000 : 10000,
            memberId: "consumer-1-abc", groupInstanceId: v >= 5 ? "instance-1" : nil, protocolType: "consumer",
            protocols: [.init(name: "range", metadata: bytes([0, 1, 2, 3, 0xFF])), .init(name: "roundrobin", metadata: bytes([]))])
    }

    static func joinGroupResponse(_ v: Int16) -> JoinGroupResponse {
        JoinGroupResponse(
            throttleTimeMs: v >= 2 ? 40 : 0, errorCode: 0, generationId: 3, protocolName: "range", leader: "m-1", memberId: "m-2",
            members: [
                .init(memberId: "m-1", groupInstanceId: v >= 5 ? "i-1" : nil, metadata: bytes([1, 2])),
                .init(memberId: "m-2", groupInstanceId: nil, metadata: bytes([])),
            ])
    }

    static func syncGroupRequest(_ v: Int16) -> SyncGroupRequest {
        SyncGroupRequest(groupId: "orders", generationId: 3, memberId: "m-1", groupInstanceId: v >= 3 ? "i-1" : nil,
                         assignments: [.init(memberId: "m-1", assignment: bytes([0, 1])), .init(memberId: "m-2", assignment: bytes([]))])
    }

    static func syncGroupResponse(_ v: Int16) -> SyncGroupResponse {
        SyncGroupResponse(throttleTimeMs: v >= 1 ? 50 : 0, errorCode: 27, assignment: bytes([9, 8, 7]))
    }

    static func heartbeatRequest(_ v: Int16) -> HeartbeatRequest {
        HeartbeatRequest(groupId: "orders", generationId: 3, memberId: "m-1", groupInstanceId: v >= 3 ? "i-1" : nil)
    }

    static func heartbeatResponse(_ v: Int16) -> HeartbeatResponse {
        HeartbeatResponse(throttleTimeMs: v >= 1 ? 60 : 0, errorCode: 27)
    }

    static func leaveGroupRequest(_ v: Int16) -> LeaveGroupRequest {
        v >= 3
            ? LeaveGroupRequest(groupId: "orders", members: [.init(memberId: "m-1", groupInstanceId: "i-1"),
                                                             .init(memberId: "m-2", groupInstanceId: nil)])
            : LeaveGroupRequest(groupId: "orders", memberId: "m-1")
    }

    static func leaveGroupResponse(_ v: Int16) -> LeaveGroupResponse {
        LeaveGroupResponse(throttleTimeMs: v >= 1 ? 70 : 0, errorCode: 0,
                           members: v >= 3 ? [.init(memberId: "m-1", groupInstanceId: "i-1", errorCode: 0),
                                              .init(memberId: "m-2", groupInstanceId: nil, errorCode: 25)] : [])
    }

    static func describeGroupsRequest(_ v: Int16) -> DescribeGroupsRequest {
        DescribeGroupsRequest(groups: ["orders", "audit"], includeAuthorizedOperations: v >= 3)
    }

    static func describeGroupsResponse(_ v: Int16) -> DescribeGroupsResponse {
        DescribeGroupsResponse(throttleTimeMs: v >= 1 ? 80 : 0, groups: [
            .init(errorCode: 0, groupId: "orders", groupState: "Stable", protocolType: "consumer", protocolData: "range",
                  members: [.init(memberId: "m-1", groupInstanceId: v >= 4 ? "i-1" : nil, clientId: "client-a",
                                  clientHost: "/127.0.0.1", memberMetadata: bytes([1, 2, 3]), memberAssignment: bytes([4, 5]))],
                  authorizedOperations: v >= 3 ? 0xF8 : Int32.min),
            .init(errorCode: 69, groupId: "gone", groupState: "Dead", protocolType: "", protocolData: "", members: [],
                  authorizedOperations: Int32.min),
        ])
    }

    static func listGroupsRequest(_ v: Int16) -> ListGroupsRequest { ListGroupsRequest() }

    static func listGroupsResponse(_ v: Int16) -> ListGroupsResponse {
        ListGroupsResponse(throttleTimeMs: v >= 1 ? 90 : 0, errorCode: 0, groups: [
            .init(groupId: "orders", protocolType: "consumer"), .init(groupId: "connect-x", protocolType: "connect"),
        ])
    }

    static func subscription(_ v: Int16) -> ConsumerProtocolSubscription {
        ConsumerProtocolSubscription(
            version: v, topics: ["payments", "audit"],
            userData: [bytes([]), nil, bytes([0xCA, 0xFE]), bytes([0xCA, 0xFE])][Int(v)],
            ownedPartitions: v >= 1 ? [.init(topic: "payments", partitions: [0, 2])] : [],
            generationId: v >= 2 ? 5 : -1, rackId: v >= 3 ? "rack-a" : nil)
    }

    static func assignment(_ v: Int16) -> ConsumerProtocolAssignment {
        ConsumerProtocolAssignment(
            version: v, assignedPartitions: [.init(topic: "payments", partitions: [0, 1]), .init(topic: "audit", partitions: [2])],
            userData: [bytes([]), nil, bytes([1]), bytes([1])][Int(v)])
    }
}
