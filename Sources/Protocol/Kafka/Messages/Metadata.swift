import NIOCore

/// Metadata (key 3), versions 0-8.
public struct MetadataRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .metadata }

    public struct MetadataRequestTopic: Sendable, Hashable {
        public var name: String

        public init(name: String) { self.name = name }
    }

    /// The topics to describe; nil means all topics. v1+ sends null for "all"; v0 has no
    /// null and uses an empty array for "all", so at v0 nil encodes as an empty array and
    /// an empty array decodes as nil.
    public var topics: [MetadataRequestTopic]?
    /// v4+; earlier versions always auto-create (decoded as true).
    public var allowAutoTopicCreation: Bool
    /// v8+.
    public var includeClusterAuthorizedOperations: Bool
    /// v8+.
    public var includeTopicAuthorizedOperations: Bool

    public init(topics: [MetadataRequestTopic]?, allowAutoTopicCreation: Bool = true,
                includeClusterAuthorizedOperations: Bool = false, includeTopicAuthorizedOperations: Bool = false) {
        self.topics = topics
        self.allowAutoTopicCreation = allowAutoTopicCreation
        self.includeClusterAuthorizedOperations = includeClusterAuthorizedOperations
        self.includeTopicAuthorizedOperations = includeTopicAuthorizedOperations
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> MetadataRequest {
        try apiKey.requireDataPathVersion(version)
        var topics = try buffer.readKafkaNullableArray("topics", minimumElementSize: 2) { (b: inout ByteBuffer) throws(KafkaCodecError) in
            MetadataRequestTopic(name: try b.readKafkaString("topics.name"))
        }
        if version == 0, topics?.isEmpty == true { topics = nil }
        let allowAutoTopicCreation = version >= 4 ? try buffer.readKafkaBool("allow_auto_topic_creation") : true
        let includeCluster = version >= 8 ? try buffer.readKafkaBool("include_cluster_authorized_operations") : false
        let includeTopic = version >= 8 ? try buffer.readKafkaBool("include_topic_authorized_operations") : false
        return MetadataRequest(topics: topics, allowAutoTopicCreation: allowAutoTopicCreation,
                               includeClusterAuthorizedOperations: includeCluster,
                               includeTopicAuthorizedOperations: includeTopic)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let topics = version == 0 ? (self.topics ?? []) : self.topics
        buffer.writeKafkaNullableArray(topics) { b, topic in b.writeKafkaString(topic.name) }
        if version >= 4 { buffer.writeKafkaBool(allowAutoTopicCreation) }
        if version >= 8 {
            buffer.writeKafkaBool(includeClusterAuthorizedOperations)
            buffer.writeKafkaBool(includeTopicAuthorizedOperations)
        }
    }
}

/// Metadata response: throttleTimeMs (v3+), brokers, clusterId (v2+), controllerId (v1+),
/// topics, clusterAuthorizedOperations (v8+).
public struct MetadataResponse: KafkaResponseBody, Hashable {
    public struct MetadataResponseBroker: Sendable, Hashable {
        public var nodeId: Int32
        public var host: String
        public var port: Int32
        /// v1+, nullable.
        public var rack: String?

        public init(nodeId: Int32, host: String, port: Int32, rack: String? = nil) {
            self.nodeId = nodeId
            self.host = host
            self.port = port
            self.rack = rack
        }

        static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
            Self(nodeId: try buffer.readKafkaInteger("brokers.node_id"),
                 host: try buffer.readKafkaString("brokers.host"),
                 port: try buffer.readKafkaInteger("brokers.port"),
                 rack: version >= 1 ? try buffer.readKafkaNullableString("brokers.rack") : nil)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16) {
            buffer.writeKafkaInteger(nodeId)
            buffer.writeKafkaString(host)
            buffer.writeKafkaInteger(port)
            if version >= 1 { buffer.writeKafkaNullableString(rack) }
        }
    }

    public struct MetadataResponsePartition: Sendable, Hashable {
        public var errorCode: Int16
        public var partitionIndex: Int32
        public var leaderId: Int32
        /// v7+.
        public var leaderEpoch: Int32
        public var replicaNodes: [Int32]
        public var isrNodes: [Int32]
        /// v5+.
        public var offlineReplicas: [Int32]

        public init(errorCode: Int16, partitionIndex: Int32, leaderId: Int32, leaderEpoch: Int32 = -1,
                    replicaNodes: [Int32], isrNodes: [Int32], offlineReplicas: [Int32] = []) {
            self.errorCode = errorCode
            self.partitionIndex = partitionIndex
            self.leaderId = leaderId
            self.leaderEpoch = leaderEpoch
            self.replicaNodes = replicaNodes
            self.isrNodes = isrNodes
            self.offlineReplicas = offlineReplicas
        }

        static func minimumSize(version: Int16) -> Int {
            18 + (version >= 7 ? 4 : 0) + (version >= 5 ? 4 : 0)
        }

        static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
            Self(errorCode: try buffer.readKafkaInteger("partitions.error_code"),
                 partitionIndex: try buffer.readKafkaInteger("partitions.partition_index"),
                 leaderId: try buffer.readKafkaInteger("partitions.leader_id"),
                 leaderEpoch: version >= 7 ? try buffer.readKafkaInteger("partitions.leader_epoch") : -1,
                 replicaNodes: try buffer.readDataPathInt32Array("partitions.replica_nodes"),
                 isrNodes: try buffer.readDataPathInt32Array("partitions.isr_nodes"),
                 offlineReplicas: version >= 5 ? try buffer.readDataPathInt32Array("partitions.offline_replicas") : [])
        }

        func encode(into buffer: inout ByteBuffer, version: Int16) {
            buffer.writeKafkaInteger(errorCode)
            buffer.writeKafkaInteger(partitionIndex)
            buffer.writeKafkaInteger(leaderId)
            if version >= 7 { buffer.writeKafkaInteger(leaderEpoch) }
            buffer.writeDataPathInt32Array(replicaNodes)
            buffer.writeDataPathInt32Array(isrNodes)
            if version >= 5 { buffer.writeDataPathInt32Array(offlineReplicas) }
        }
    }

    public struct MetadataResponseTopic: Sendable, Hashable {
        public var errorCode: Int16
        public var name: String
        /// v1+.
        public var isInternal: Bool
        public var partitions: [MetadataResponsePartition]
        /// v8+; Int32.min means "not requested".
        public var topicAuthorizedOperations: Int32

        public init(errorCode: Int16, name: String, isInternal: Bool = false,
                    partitions: [MetadataResponsePartition], topicAuthorizedOperations: Int32 = Int32.min) {
            self.errorCode = errorCode
            self.name = name
            self.isInternal = isInternal
            self.partitions = partitions
            self.topicAuthorizedOperations = topicAuthorizedOperations
        }

        static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
            let errorCode: Int16 = try buffer.readKafkaInteger("topics.error_code")
            let name = try buffer.readKafkaString("topics.name")
            let isInternal = version >= 1 ? try buffer.readKafkaBool("topics.is_internal") : false
            let partitions = try buffer.readKafkaArray("topics.partitions",
                                                       minimumElementSize: MetadataResponsePartition.minimumSize(version: version)) {
                (b: inout ByteBuffer) throws(KafkaCodecError) in try MetadataResponsePartition.decode(from: &b, version: version)
            }
            let operations: Int32 = version >= 8 ? try buffer.readKafkaInteger("topics.topic_authorized_operations") : Int32.min
            return Self(errorCode: errorCode, name: name, isInternal: isInternal, partitions: partitions,
                        topicAuthorizedOperations: operations)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16) {
            buffer.writeKafkaInteger(errorCode)
            buffer.writeKafkaString(name)
            if version >= 1 { buffer.writeKafkaBool(isInternal) }
            buffer.writeKafkaArray(partitions) { b, partition in partition.encode(into: &b, version: version) }
            if version >= 8 { buffer.writeKafkaInteger(topicAuthorizedOperations) }
        }
    }

    /// v3+.
    public var throttleTimeMs: Int32
    public var brokers: [MetadataResponseBroker]
    /// v2+, nullable.
    public var clusterId: String?
    /// v1+.
    public var controllerId: Int32
    public var topics: [MetadataResponseTopic]
    /// v8+; Int32.min means "not requested".
    public var clusterAuthorizedOperations: Int32

    public init(throttleTimeMs: Int32 = 0, brokers: [MetadataResponseBroker], clusterId: String? = nil,
                controllerId: Int32 = -1, topics: [MetadataResponseTopic], clusterAuthorizedOperations: Int32 = Int32.min) {
        self.throttleTimeMs = throttleTimeMs
        self.brokers = brokers
        self.clusterId = clusterId
        self.controllerId = controllerId
        self.topics = topics
        self.clusterAuthorizedOperations = clusterAuthorizedOperations
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> MetadataResponse {
        try KafkaAPIKey.metadata.requireDataPathVersion(version)
        let throttleTimeMs: Int32 = version >= 3 ? try buffer.readKafkaInteger("throttle_time_ms") : 0
        let brokers = try buffer.readKafkaArray("brokers", minimumElementSize: version >= 1 ? 12 : 10) {
            (b: inout ByteBuffer) throws(KafkaCodecError) in try MetadataResponseBroker.decode(from: &b, version: version)
        }
        let clusterId = version >= 2 ? try buffer.readKafkaNullableString("cluster_id") : nil
        let controllerId: Int32 = version >= 1 ? try buffer.readKafkaInteger("controller_id") : -1
        let topicSize = 8 + (version >= 1 ? 1 : 0) + (version >= 8 ? 4 : 0)
        let topics = try buffer.readKafkaArray("topics", minimumElementSize: topicSize) {
            (b: inout ByteBuffer) throws(KafkaCodecError) in try MetadataResponseTopic.decode(from: &b, version: version)
        }
        let clusterOperations: Int32 = version >= 8 ? try buffer.readKafkaInteger("cluster_authorized_operations") : Int32.min
        return MetadataResponse(throttleTimeMs: throttleTimeMs, brokers: brokers, clusterId: clusterId,
                                controllerId: controllerId, topics: topics, clusterAuthorizedOperations: clusterOperations)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        if version >= 3 { buffer.writeKafkaInteger(throttleTimeMs) }
        buffer.writeKafkaArray(brokers) { b, broker in broker.encode(into: &b, version: version) }
        if version >= 2 { buffer.writeKafkaNullableString(clusterId) }
        if version >= 1 { buffer.writeKafkaInteger(controllerId) }
        buffer.writeKafkaArray(topics) { b, topic in topic.encode(into: &b, version: version) }
        if version >= 8 { buffer.writeKafkaInteger(clusterAuthorizedOperations) }
    }
}
