/// The Kafka APIs paynode speaks, with the version ranges it advertises.
/// Floors are low on purpose: librdkafka 2.0.2 enables features only when the broker's range
/// overlaps specific versions (see shared notes, kafka-wire.md).
public enum KafkaAPIKey: Int16, Sendable, CaseIterable, CustomStringConvertible {
    case produce = 0
    case fetch = 1
    case listOffsets = 2
    case metadata = 3
    case offsetCommit = 8
    case offsetFetch = 9
    case findCoordinator = 10
    case joinGroup = 11
    case heartbeat = 12
    case leaveGroup = 13
    case syncGroup = 14
    case describeGroups = 15
    case listGroups = 16
    case saslHandshake = 17
    case apiVersions = 18
    case createTopics = 19
    case deleteTopics = 20
    case deleteRecords = 21
    case initProducerId = 22
    case offsetForLeaderEpoch = 23
    case describeAcls = 29
    case createAcls = 30
    case deleteAcls = 31
    case describeConfigs = 32
    case alterConfigs = 33
    case describeLogDirs = 35
    case createPartitions = 37
    case deleteGroups = 42
    case incrementalAlterConfigs = 44
    case offsetDelete = 47
    case saslAuthenticate = 36

    public var supportedVersions: ClosedRange<Int16> {
        switch self {
        case .produce: 3...8
        case .fetch: 4...11
        case .listOffsets: 1...5
        case .metadata: 0...8
        case .offsetCommit: 2...7
        case .offsetFetch: 1...5
        case .findCoordinator: 0...2
        case .joinGroup: 0...5
        case .heartbeat: 0...3
        case .leaveGroup: 0...3
        case .syncGroup: 0...3
        case .describeGroups: 0...4
        case .listGroups: 0...2
        case .saslHandshake: 0...1
        case .apiVersions: 0...4
        case .createTopics: 0...4
        case .deleteTopics: 0...6
        case .deleteRecords: 0...2
        case .initProducerId: 0...1
        case .offsetForLeaderEpoch: 0...4
        case .describeLogDirs: 0...5
        case .describeAcls, .createAcls, .deleteAcls: 0...1
        case .describeConfigs: 1...4
        case .alterConfigs: 0...2
        case .createPartitions: 0...3
        case .deleteGroups: 0...2
        case .incrementalAlterConfigs: 0...1
        case .offsetDelete: 0...0
        case .saslAuthenticate: 0...2
        }
    }

    /// The first version that uses KIP-482's flexible encoding (request header v2, response
    /// header v1, compact types, tagged fields), from each message's `flexibleVersions` in
    /// Apache Kafka's definitions; nil for SaslHandshake and OffsetDelete, which never became flexible.
    public var firstFlexibleVersion: Int16? {
        switch self {
        case .produce: 9
        case .fetch: 12
        case .listOffsets: 6
        case .metadata: 9
        case .offsetCommit: 8
        case .offsetFetch: 6
        case .findCoordinator: 3
        case .joinGroup: 6
        case .heartbeat: 4
        case .leaveGroup: 4
        case .syncGroup: 4
        case .describeGroups: 5
        case .listGroups: 3
        case .saslHandshake: nil
        case .apiVersions: 3
        case .createTopics: 5
        case .deleteTopics: 4
        case .deleteRecords: 2
        case .initProducerId: 2
        case .offsetForLeaderEpoch: 4
        case .describeLogDirs: 2
        case .describeAcls, .createAcls, .deleteAcls: 2
        case .describeConfigs: 4
        case .alterConfigs: 2
        case .createPartitions: 2
        case .deleteGroups: 2
        case .incrementalAlterConfigs: 1
        case .offsetDelete: nil
        case .saslAuthenticate: 2
        }
    }

    public func isFlexible(_ version: Int16) -> Bool {
        guard let first = firstFlexibleVersion else { return false }
        return version >= first
    }

    public var description: String {
        switch self {
        case .produce: "Produce"
        case .fetch: "Fetch"
        case .listOffsets: "ListOffsets"
        case .metadata: "Metadata"
        case .offsetCommit: "OffsetCommit"
        case .offsetFetch: "OffsetFetch"
        case .findCoordinator: "FindCoordinator"
        case .joinGroup: "JoinGroup"
        case .heartbeat: "Heartbeat"
        case .leaveGroup: "LeaveGroup"
        case .syncGroup: "SyncGroup"
        case .describeGroups: "DescribeGroups"
        case .listGroups: "ListGroups"
        case .saslHandshake: "SaslHandshake"
        case .apiVersions: "ApiVersions"
        case .createTopics: "CreateTopics"
        case .deleteTopics: "DeleteTopics"
        case .deleteRecords: "DeleteRecords"
        case .initProducerId: "InitProducerId"
        case .offsetForLeaderEpoch: "OffsetForLeaderEpoch"
        case .describeLogDirs: "DescribeLogDirs"
        case .describeAcls: "DescribeAcls"
        case .createAcls: "CreateAcls"
        case .deleteAcls: "DeleteAcls"
        case .describeConfigs: "DescribeConfigs"
        case .alterConfigs: "AlterConfigs"
        case .createPartitions: "CreatePartitions"
        case .deleteGroups: "DeleteGroups"
        case .incrementalAlterConfigs: "IncrementalAlterConfigs"
        case .offsetDelete: "OffsetDelete"
        case .saslAuthenticate: "SaslAuthenticate"
        }
    }
}

/// Kafka's error codes that paynode answers with (org.apache.kafka.common.protocol.Errors).
public enum KafkaErrorCode: Int16, Sendable, Hashable {
    case unknownServerError = -1
    case none = 0
    case offsetOutOfRange = 1
    case corruptMessage = 2
    case unknownTopicOrPartition = 3
    case invalidFetchSize = 4
    case leaderNotAvailable = 5
    case notLeaderOrFollower = 6
    case requestTimedOut = 7
    case messageTooLarge = 10
    case offsetMetadataTooLarge = 12
    case coordinatorLoadInProgress = 14
    case coordinatorNotAvailable = 15
    case notCoordinator = 16
    case invalidTopicException = 17
    case recordListTooLarge = 18
    case notEnoughReplicas = 19
    case invalidRequiredAcks = 21
    case illegalGeneration = 22
    case inconsistentGroupProtocol = 23
    case invalidGroupId = 24
    case unknownMemberId = 25
    case invalidSessionTimeout = 26
    case rebalanceInProgress = 27
    case invalidCommitOffsetSize = 28
    case topicAuthorizationFailed = 29
    case groupAuthorizationFailed = 30
    case clusterAuthorizationFailed = 31
    case unsupportedSaslMechanism = 33
    case illegalSaslState = 34
    case unsupportedVersion = 35
    case topicAlreadyExists = 36
    case invalidPartitions = 37
    case invalidReplicationFactor = 38
    case invalidReplicaAssignment = 39
    case invalidConfig = 40
    case invalidRequest = 42
    case unsupportedForMessageFormat = 43
    case policyViolation = 44
    case outOfOrderSequenceNumber = 45
    case duplicateSequenceNumber = 46
    case invalidProducerEpoch = 47
    case invalidTimestamp = 32
    case transactionalIdAuthorizationFailed = 53
    case kafkaStorageError = 56
    case saslAuthenticationFailed = 58
    case unknownProducerId = 59
    case nonEmptyGroup = 68
    case groupIdNotFound = 69
    case unsupportedCompressionType = 76
    case memberIdRequired = 79
    case groupMaxSizeReached = 81
    case groupSubscribedToTopic = 86
    case unknownLeaderEpoch = 75
    case invalidRecord = 87
    case unknownTopicId = 100
}
