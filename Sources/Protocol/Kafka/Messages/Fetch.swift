import NIOCore

/// Fetch (key 1), versions 4-11 (topic names, not ids; no flexible fields).
public struct FetchRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .fetch }

    public struct FetchPartition: Sendable, Hashable {
        public var partition: Int32
        /// v9+.
        public var currentLeaderEpoch: Int32
        public var fetchOffset: Int64
        /// v5+; only followers set it.
        public var logStartOffset: Int64
        public var partitionMaxBytes: Int32

        public init(partition: Int32, currentLeaderEpoch: Int32 = -1, fetchOffset: Int64,
                    logStartOffset: Int64 = -1, partitionMaxBytes: Int32) {
            self.partition = partition
            self.currentLeaderEpoch = currentLeaderEpoch
            self.fetchOffset = fetchOffset
            self.logStartOffset = logStartOffset
            self.partitionMaxBytes = partitionMaxBytes
        }

        static func minimumSize(version: Int16) -> Int {
            16 + (version >= 9 ? 4 : 0) + (version >= 5 ? 8 : 0)
        }

        static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
            Self(partition: try buffer.readKafkaInteger("partitions.partition"),
                 currentLeaderEpoch: version >= 9 ? try buffer.readKafkaInteger("partitions.current_leader_epoch") : -1,
                 fetchOffset: try buffer.readKafkaInteger("partitions.fetch_offset"),
                 logStartOffset: version >= 5 ? try buffer.readKafkaInteger("partitions.log_start_offset") : -1,
                 partitionMaxBytes: try buffer.readKafkaInteger("partitions.partition_max_bytes"))
        }

        func encode(into buffer: inout ByteBuffer, version: Int16) {
            buffer.writeKafkaInteger(partition)
            if version >= 9 { buffer.writeKafkaInteger(currentLeaderEpoch) }
            buffer.writeKafkaInteger(fetchOffset)
            if version >= 5 { buffer.writeKafkaInteger(logStartOffset) }
            buffer.writeKafkaInteger(partitionMaxBytes)
        }
    }

    public struct FetchTopic: Sendable, Hashable {
        public var topic: String
        public var partitions: [FetchPartition]

        public init(topic: String, partitions: [FetchPartition]) {
            self.topic = topic
            self.partitions = partitions
        }
    }

    /// v7+: partitions to drop from an incremental fetch session.
    public struct ForgottenTopic: Sendable, Hashable {
        public var topic: String
        public var partitions: [Int32]

        public init(topic: String, partitions: [Int32]) {
            self.topic = topic
            self.partitions = partitions
        }
    }

    /// -1 for consumers.
    public var replicaId: Int32
    public var maxWaitMs: Int32
    public var minBytes: Int32
    /// v3+.
    public var maxBytes: Int32
    /// v4+: 0 read uncommitted, 1 read committed.
    public var isolationLevel: Int8
    /// v7+.
    public var sessionId: Int32
    /// v7+.
    public var sessionEpoch: Int32
    public var topics: [FetchTopic]
    /// v7+.
    public var forgottenTopicsData: [ForgottenTopic]
    /// v11+.
    public var rackId: String

    public init(replicaId: Int32 = -1, maxWaitMs: Int32, minBytes: Int32, maxBytes: Int32 = Int32.max,
                isolationLevel: Int8 = 0, sessionId: Int32 = 0, sessionEpoch: Int32 = -1, topics: [FetchTopic],
                forgottenTopicsData: [ForgottenTopic] = [], rackId: String = "") {
        self.replicaId = replicaId
        self.maxWaitMs = maxWaitMs
        self.minBytes = minBytes
        self.maxBytes = maxBytes
        self.isolationLevel = isolationLevel
        self.sessionId = sessionId
        self.sessionEpoch = sessionEpoch
        self.topics = topics
        self.forgottenTopicsData = forgottenTopicsData
        self.rackId = rackId
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> FetchRequest {
        try apiKey.requireDataPathVersion(version)
        let replicaId: Int32 = try buffer.readKafkaInteger("replica_id")
        let maxWaitMs: Int32 = try buffer.readKafkaInteger("max_wait_ms")
        let minBytes: Int32 = try buffer.readKafkaInteger("min_bytes")
        let maxBytes: Int32 = try buffer.readKafkaInteger("max_bytes")
        let isolationLevel: Int8 = try buffer.readKafkaInteger("isolation_level")
        let sessionId: Int32 = version >= 7 ? try buffer.readKafkaInteger("session_id") : 0
        let sessionEpoch: Int32 = version >= 7 ? try buffer.readKafkaInteger("session_epoch") : -1
        let topics = try buffer.readKafkaArray("topics", minimumElementSize: 6) { (b: inout ByteBuffer) throws(KafkaCodecError) in
            FetchTopic(
                topic: try b.readKafkaString("topics.topic"),
                partitions: try b.readKafkaArray("topics.partitions", minimumElementSize: FetchPartition.minimumSize(version: version)) {
                    (p: inout ByteBuffer) throws(KafkaCodecError) in try FetchPartition.decode(from: &p, version: version)
                })
        }
        var forgotten: [ForgottenTopic] = []
        if version >= 7 {
            forgotten = try buffer.readKafkaArray("forgotten_topics_data", minimumElementSize: 6) { (b: inout ByteBuffer) throws(KafkaCodecError) in
                ForgottenTopic(topic: try b.readKafkaString("forgotten_topics_data.topic"),
                               partitions: try b.readDataPathInt32Array("forgotten_topics_data.partitions"))
            }
        }
        let rackId = version >= 11 ? try buffer.readKafkaString("rack_id") : ""
        return FetchRequest(replicaId: replicaId, maxWaitMs: maxWaitMs, minBytes: minBytes, maxBytes: maxBytes,
                            isolationLevel: isolationLevel, sessionId: sessionId, sessionEpoch: sessionEpoch,
                            topics: topics, forgottenTopicsData: forgotten, rackId: rackId)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaInteger(replicaId)
        buffer.writeKafkaInteger(maxWaitMs)
        buffer.writeKafkaInteger(minBytes)
        buffer.writeKafkaInteger(maxBytes)
        buffer.writeKafkaInteger(isolationLevel)
        if version >= 7 {
            buffer.writeKafkaInteger(sessionId)
            buffer.writeKafkaInteger(sessionEpoch)
        }
        buffer.writeKafkaArray(topics) { b, topic in
            b.writeKafkaString(topic.topic)
            b.writeKafkaArray(topic.partitions) { p, partition in partition.encode(into: &p, version: version) }
        }
        if version >= 7 {
            buffer.writeKafkaArray(forgottenTopicsData) { b, topic in
                b.writeKafkaString(topic.topic)
                b.writeDataPathInt32Array(topic.partitions)
            }
        }
        if version >= 11 { buffer.writeKafkaString(rackId) }
    }
}

/// Fetch response: throttleTimeMs, errorCode and sessionId (v7+), responses[topic, partitions].
public struct FetchResponse: KafkaResponseBody, Hashable {
    public struct AbortedTransaction: Sendable, Hashable {
        public var producerId: Int64
        public var firstOffset: Int64

        public init(producerId: Int64, firstOffset: Int64) {
            self.producerId = producerId
            self.firstOffset = firstOffset
        }
    }

    public struct PartitionData: Sendable, Hashable {
        public var partitionIndex: Int32
        public var errorCode: Int16
        public var highWatermark: Int64
        /// v4+.
        public var lastStableOffset: Int64
        /// v5+.
        public var logStartOffset: Int64
        /// v4+, nullable (null and empty stay distinct).
        public var abortedTransactions: [AbortedTransaction]?
        /// v11+; -1 means "read from the leader".
        public var preferredReadReplica: Int32
        /// Whole record batches (the last one may be truncated); nullable.
        public var records: ByteBuffer?

        public init(partitionIndex: Int32, errorCode: Int16, highWatermark: Int64, lastStableOffset: Int64 = -1,
                    logStartOffset: Int64 = -1, abortedTransactions: [AbortedTransaction]? = [],
                    preferredReadReplica: Int32 = -1, records: ByteBuffer?) {
            self.partitionIndex = partitionIndex
            self.errorCode = errorCode
            self.highWatermark = highWatermark
            self.lastStableOffset = lastStableOffset
            self.logStartOffset = logStartOffset
            self.abortedTransactions = abortedTransactions
            self.preferredReadReplica = preferredReadReplica
            self.records = records
        }

        static func minimumSize(version: Int16) -> Int {
            // index, error, high watermark, LSO, aborted count, records length
            30 + (version >= 5 ? 8 : 0) + (version >= 11 ? 4 : 0)
        }

        static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
            let partitionIndex: Int32 = try buffer.readKafkaInteger("partitions.partition_index")
            let errorCode: Int16 = try buffer.readKafkaInteger("partitions.error_code")
            let highWatermark: Int64 = try buffer.readKafkaInteger("partitions.high_watermark")
            let lastStableOffset: Int64 = try buffer.readKafkaInteger("partitions.last_stable_offset")
            let logStartOffset: Int64 = version >= 5 ? try buffer.readKafkaInteger("partitions.log_start_offset") : -1
            let aborted = try buffer.readKafkaNullableArray("partitions.aborted_transactions", minimumElementSize: 16) {
                (b: inout ByteBuffer) throws(KafkaCodecError) in
                AbortedTransaction(producerId: try b.readKafkaInteger("aborted_transactions.producer_id"),
                                   firstOffset: try b.readKafkaInteger("aborted_transactions.first_offset"))
            }
            let preferredReadReplica: Int32 = version >= 11 ? try buffer.readKafkaInteger("partitions.preferred_read_replica") : -1
            let records = try buffer.readKafkaNullableBytes("partitions.records")
            return Self(partitionIndex: partitionIndex, errorCode: errorCode, highWatermark: highWatermark,
                        lastStableOffset: lastStableOffset, logStartOffset: logStartOffset, abortedTransactions: aborted,
                        preferredReadReplica: preferredReadReplica, records: records)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16) {
            buffer.writeKafkaInteger(partitionIndex)
            buffer.writeKafkaInteger(errorCode)
            buffer.writeKafkaInteger(highWatermark)
            buffer.writeKafkaInteger(lastStableOffset)
            if version >= 5 { buffer.writeKafkaInteger(logStartOffset) }
            buffer.writeKafkaNullableArray(abortedTransactions) { b, aborted in
                b.writeKafkaInteger(aborted.producerId)
                b.writeKafkaInteger(aborted.firstOffset)
            }
            if version >= 11 { buffer.writeKafkaInteger(preferredReadReplica) }
            buffer.writeKafkaNullableBytes(records)
        }
    }

    public struct FetchableTopicResponse: Sendable, Hashable {
        public var topic: String
        public var partitions: [PartitionData]

        public init(topic: String, partitions: [PartitionData]) {
            self.topic = topic
            self.partitions = partitions
        }
    }

    public var throttleTimeMs: Int32
    /// v7+: top-level (session) error.
    public var errorCode: Int16
    /// v7+: 0 when not part of a fetch session.
    public var sessionId: Int32
    public var responses: [FetchableTopicResponse]

    public init(throttleTimeMs: Int32 = 0, errorCode: Int16 = 0, sessionId: Int32 = 0, responses: [FetchableTopicResponse]) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.sessionId = sessionId
        self.responses = responses
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> FetchResponse {
        try KafkaAPIKey.fetch.requireDataPathVersion(version)
        let throttleTimeMs: Int32 = try buffer.readKafkaInteger("throttle_time_ms")
        let errorCode: Int16 = version >= 7 ? try buffer.readKafkaInteger("error_code") : 0
        let sessionId: Int32 = version >= 7 ? try buffer.readKafkaInteger("session_id") : 0
        let responses = try buffer.readKafkaArray("responses", minimumElementSize: 6) { (b: inout ByteBuffer) throws(KafkaCodecError) in
            FetchableTopicResponse(
                topic: try b.readKafkaString("responses.topic"),
                partitions: try b.readKafkaArray("responses.partitions", minimumElementSize: PartitionData.minimumSize(version: version)) {
                    (p: inout ByteBuffer) throws(KafkaCodecError) in try PartitionData.decode(from: &p, version: version)
                })
        }
        return FetchResponse(throttleTimeMs: throttleTimeMs, errorCode: errorCode, sessionId: sessionId, responses: responses)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaInteger(throttleTimeMs)
        if version >= 7 {
            buffer.writeKafkaInteger(errorCode)
            buffer.writeKafkaInteger(sessionId)
        }
        buffer.writeKafkaArray(responses) { b, topic in
            b.writeKafkaString(topic.topic)
            b.writeKafkaArray(topic.partitions) { p, partition in partition.encode(into: &p, version: version) }
        }
    }
}
