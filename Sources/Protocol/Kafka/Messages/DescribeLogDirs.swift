import NIOCore

/// DescribeLogDirs (key 35), versions 0-5 (v2+ flexible): what `kafka-log-dirs.sh`, kafka-ui and
/// AKHQ call to show each partition's size on disk. Layout per Apache Kafka's
/// `DescribeLogDirsRequest.json` / `DescribeLogDirsResponse.json`.
public struct DescribeLogDirsRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .describeLogDirs }

    public struct Topic: Sendable, Hashable {
        public var topic: String
        public var partitions: [Int32]

        public init(topic: String, partitions: [Int32]) {
            self.topic = topic
            self.partitions = partitions
        }
    }

    /// Nil: every partition of every topic.
    public var topics: [Topic]?

    public init(topics: [Topic]?) {
        self.topics = topics
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let flexible = apiKey.isFlexible(version)
        let topics = try buffer.readKafkaNullableArray("topics", flexible: flexible, minimumElementSize: flexible ? 2 : 6) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Topic in
            let name = try b.readKafkaString("topics.topic", flexible: flexible)
            let partitions = try b.readKafkaArray("topics.partitions", flexible: flexible, minimumElementSize: 4) { (p: inout ByteBuffer) throws(KafkaCodecError) -> Int32 in
                try p.readKafkaInteger("topics.partitions[]")
            }
            try b.skipKafkaTaggedFields("topics tagged fields", flexible: flexible)
            return Topic(topic: name, partitions: partitions)
        }
        try buffer.skipKafkaTaggedFields("tagged fields", flexible: flexible)
        return DescribeLogDirsRequest(topics: topics)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeKafkaNullableArray(topics, flexible: flexible) { b, topic in
            b.writeKafkaString(topic.topic, flexible: flexible)
            b.writeKafkaArray(topic.partitions, flexible: flexible) { $0.writeKafkaInteger($1) }
            b.writeKafkaEmptyTaggedFields(flexible: flexible)
        }
        buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
    }
}

public struct DescribeLogDirsResponse: KafkaResponseBody, Hashable {
    public struct Partition: Sendable, Hashable {
        public var partitionIndex: Int32
        public var partitionSize: Int64
        /// How far a future replica lags (always 0: paynode moves no replicas between directories).
        public var offsetLag: Int64
        public var isFutureKey: Bool

        public init(partitionIndex: Int32, partitionSize: Int64, offsetLag: Int64 = 0, isFutureKey: Bool = false) {
            self.partitionIndex = partitionIndex
            self.partitionSize = partitionSize
            self.offsetLag = offsetLag
            self.isFutureKey = isFutureKey
        }
    }

    public struct Topic: Sendable, Hashable {
        public var name: String
        public var partitions: [Partition]

        public init(name: String, partitions: [Partition]) {
            self.name = name
            self.partitions = partitions
        }
    }

    public struct Result: Sendable, Hashable {
        public var errorCode: Int16
        public var logDir: String
        public var topics: [Topic]
        /// v4+: the directory's filesystem size and free space; -1 when unknown.
        public var totalBytes: Int64
        public var usableBytes: Int64
        /// v5+.
        public var isCordoned: Bool

        public init(errorCode: Int16 = 0, logDir: String, topics: [Topic], totalBytes: Int64 = -1, usableBytes: Int64 = -1,
                    isCordoned: Bool = false) {
            self.errorCode = errorCode
            self.logDir = logDir
            self.topics = topics
            self.totalBytes = totalBytes
            self.usableBytes = usableBytes
            self.isCordoned = isCordoned
        }
    }

    public var throttleTimeMs: Int32
    /// v3+: CLUSTER_AUTHORIZATION_FAILED for the whole request.
    public var errorCode: Int16
    public var results: [Result]

    public init(throttleTimeMs: Int32 = 0, errorCode: Int16 = 0, results: [Result]) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.results = results
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .describeLogDirs)
        let flexible = KafkaAPIKey.describeLogDirs.isFlexible(version)
        let throttle: Int32 = try buffer.readKafkaInteger("throttle_time_ms")
        let errorCode: Int16 = try version >= 3 ? buffer.readKafkaInteger("error_code") : 0
        let results = try buffer.readKafkaArray("results", flexible: flexible, minimumElementSize: flexible ? 4 : 8) { (r: inout ByteBuffer) throws(KafkaCodecError) -> Result in
            let code: Int16 = try r.readKafkaInteger("results.error_code")
            let logDir = try r.readKafkaString("results.log_dir", flexible: flexible)
            let topics = try r.readKafkaArray("results.topics", flexible: flexible, minimumElementSize: flexible ? 2 : 6) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Topic in
                let name = try b.readKafkaString("topics.name", flexible: flexible)
                let partitions = try b.readKafkaArray("topics.partitions", flexible: flexible, minimumElementSize: 21) { (p: inout ByteBuffer) throws(KafkaCodecError) -> Partition in
                    let partition = Partition(partitionIndex: try p.readKafkaInteger("partitions.partition_index"),
                                              partitionSize: try p.readKafkaInteger("partitions.partition_size"),
                                              offsetLag: try p.readKafkaInteger("partitions.offset_lag"),
                                              isFutureKey: try p.readKafkaBool("partitions.is_future_key"))
                    try p.skipKafkaTaggedFields("partitions tagged fields", flexible: flexible)
                    return partition
                }
                try b.skipKafkaTaggedFields("topics tagged fields", flexible: flexible)
                return Topic(name: name, partitions: partitions)
            }
            let total: Int64 = try version >= 4 ? r.readKafkaInteger("results.total_bytes") : -1
            let usable: Int64 = try version >= 4 ? r.readKafkaInteger("results.usable_bytes") : -1
            let cordoned = try version >= 5 ? r.readKafkaBool("results.is_cordoned") : false
            try r.skipKafkaTaggedFields("results tagged fields", flexible: flexible)
            return Result(errorCode: code, logDir: logDir, topics: topics, totalBytes: total, usableBytes: usable, isCordoned: cordoned)
        }
        try buffer.skipKafkaTaggedFields("tagged fields", flexible: flexible)
        return DescribeLogDirsResponse(throttleTimeMs: throttle, errorCode: errorCode, results: results)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let flexible = KafkaAPIKey.describeLogDirs.isFlexible(version)
        buffer.writeKafkaInteger(throttleTimeMs)
        if version >= 3 { buffer.writeKafkaInteger(errorCode) }
        buffer.writeKafkaArray(results, flexible: flexible) { r, result in
            r.writeKafkaInteger(result.errorCode)
            r.writeKafkaString(result.logDir, flexible: flexible)
            r.writeKafkaArray(result.topics, flexible: flexible) { b, topic in
                b.writeKafkaString(topic.name, flexible: flexible)
                b.writeKafkaArray(topic.partitions, flexible: flexible) { p, partition in
                    p.writeKafkaInteger(partition.partitionIndex)
                    p.writeKafkaInteger(partition.partitionSize)
                    p.writeKafkaInteger(partition.offsetLag)
                    p.writeKafkaBool(partition.isFutureKey)
                    p.writeKafkaEmptyTaggedFields(flexible: flexible)
                }
                b.writeKafkaEmptyTaggedFields(flexible: flexible)
            }
            if version >= 4 {
                r.writeKafkaInteger(result.totalBytes)
                r.writeKafkaInteger(result.usableBytes)
            }
            if version >= 5 { r.writeKafkaBool(result.isCordoned) }
            r.writeKafkaEmptyTaggedFields(flexible: flexible)
        }
        buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
    }
}
