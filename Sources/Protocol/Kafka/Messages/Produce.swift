import NIOCore

/// Produce (key 0), versions 3-8. Records are slices of the request frame, not copied.
public struct ProduceRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .produce }

    public struct PartitionProduceData: Sendable, Hashable {
        public var index: Int32
        /// The record batches, as sent (nullable bytes).
        public var records: ByteBuffer?

        public init(index: Int32, records: ByteBuffer?) {
            self.index = index
            self.records = records
        }
    }

    public struct TopicProduceData: Sendable, Hashable {
        public var name: String
        public var partitionData: [PartitionProduceData]

        public init(name: String, partitionData: [PartitionProduceData]) {
            self.name = name
            self.partitionData = partitionData
        }
    }

    /// v3+, nullable.
    public var transactionalId: String?
    /// 0: no response, 1: leader, -1: all in-sync replicas.
    public var acks: Int16
    public var timeoutMs: Int32
    public var topicData: [TopicProduceData]

    public init(transactionalId: String? = nil, acks: Int16, timeoutMs: Int32, topicData: [TopicProduceData]) {
        self.transactionalId = transactionalId
        self.acks = acks
        self.timeoutMs = timeoutMs
        self.topicData = topicData
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> ProduceRequest {
        try apiKey.requireDataPathVersion(version)
        let transactionalId = try buffer.readKafkaNullableString("transactional_id")
        let acks: Int16 = try buffer.readKafkaInteger("acks")
        let timeoutMs: Int32 = try buffer.readKafkaInteger("timeout_ms")
        let topicData = try buffer.readKafkaArray("topic_data", minimumElementSize: 6) { (b: inout ByteBuffer) throws(KafkaCodecError) in
            TopicProduceData(
                name: try b.readKafkaString("topic_data.name"),
                partitionData: try b.readKafkaArray("partition_data", minimumElementSize: 8) { (p: inout ByteBuffer) throws(KafkaCodecError) in
                    PartitionProduceData(index: try p.readKafkaInteger("partition_data.index"),
                                         records: try p.readKafkaNullableBytes("partition_data.records"))
                })
        }
        return ProduceRequest(transactionalId: transactionalId, acks: acks, timeoutMs: timeoutMs, topicData: topicData)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaNullableString(transactionalId)
        buffer.writeKafkaInteger(acks)
        buffer.writeKafkaInteger(timeoutMs)
        buffer.writeKafkaArray(topicData) { b, topic in
            b.writeKafkaString(topic.name)
            b.writeKafkaArray(topic.partitionData) { p, partition in
                p.writeKafkaInteger(partition.index)
                p.writeKafkaNullableBytes(partition.records)
            }
        }
    }
}

/// Produce response: responses[name, partitionResponses[...]], throttleTimeMs.
public struct ProduceResponse: KafkaResponseBody, Hashable {
    public struct BatchIndexAndErrorMessage: Sendable, Hashable {
        public var batchIndex: Int32
        public var batchIndexErrorMessage: String?

        public init(batchIndex: Int32, batchIndexErrorMessage: String? = nil) {
            self.batchIndex = batchIndex
            self.batchIndexErrorMessage = batchIndexErrorMessage
        }
    }

    public struct PartitionProduceResponse: Sendable, Hashable {
        public var index: Int32
        public var errorCode: Int16
        public var baseOffset: Int64
        /// v2+; -1 unless the topic uses LogAppendTime.
        public var logAppendTimeMs: Int64
        /// v5+.
        public var logStartOffset: Int64
        /// v8+.
        public var recordErrors: [BatchIndexAndErrorMessage]
        /// v8+, nullable.
        public var errorMessage: String?

        public init(index: Int32, errorCode: Int16, baseOffset: Int64, logAppendTimeMs: Int64 = -1,
                    logStartOffset: Int64 = -1, recordErrors: [BatchIndexAndErrorMessage] = [], errorMessage: String? = nil) {
            self.index = index
            self.errorCode = errorCode
            self.baseOffset = baseOffset
            self.logAppendTimeMs = logAppendTimeMs
            self.logStartOffset = logStartOffset
            self.recordErrors = recordErrors
            self.errorMessage = errorMessage
        }

        static func minimumSize(version: Int16) -> Int {
            22 + (version >= 5 ? 8 : 0) + (version >= 8 ? 6 : 0)
        }

        static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
            let index: Int32 = try buffer.readKafkaInteger("partition_responses.index")
            let errorCode: Int16 = try buffer.readKafkaInteger("partition_responses.error_code")
            let baseOffset: Int64 = try buffer.readKafkaInteger("partition_responses.base_offset")
            let logAppendTimeMs: Int64 = try buffer.readKafkaInteger("partition_responses.log_append_time_ms")
            let logStartOffset: Int64 = version >= 5 ? try buffer.readKafkaInteger("partition_responses.log_start_offset") : -1
            var recordErrors: [BatchIndexAndErrorMessage] = []
            var errorMessage: String?
            if version >= 8 {
                recordErrors = try buffer.readKafkaArray("record_errors", minimumElementSize: 6) { (b: inout ByteBuffer) throws(KafkaCodecError) in
                    BatchIndexAndErrorMessage(batchIndex: try b.readKafkaInteger("record_errors.batch_index"),
                                              batchIndexErrorMessage: try b.readKafkaNullableString("record_errors.batch_index_error_message"))
                }
                errorMessage = try buffer.readKafkaNullableString("partition_responses.error_message")
            }
            return Self(index: index, errorCode: errorCode, baseOffset: baseOffset, logAppendTimeMs: logAppendTimeMs,
                        logStartOffset: logStartOffset, recordErrors: recordErrors, errorMessage: errorMessage)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16) {
            buffer.writeKafkaInteger(index)
            buffer.writeKafkaInteger(errorCode)
            buffer.writeKafkaInteger(baseOffset)
            buffer.writeKafkaInteger(logAppendTimeMs)
            if version >= 5 { buffer.writeKafkaInteger(logStartOffset) }
            if version >= 8 {
                buffer.writeKafkaArray(recordErrors) { b, error in
                    b.writeKafkaInteger(error.batchIndex)
                    b.writeKafkaNullableString(error.batchIndexErrorMessage)
                }
                buffer.writeKafkaNullableString(errorMessage)
            }
        }
    }

    public struct TopicProduceResponse: Sendable, Hashable {
        public var name: String
        public var partitionResponses: [PartitionProduceResponse]

        public init(name: String, partitionResponses: [PartitionProduceResponse]) {
            self.name = name
            self.partitionResponses = partitionResponses
        }
    }

    public var responses: [TopicProduceResponse]
    /// v1+.
    public var throttleTimeMs: Int32

    public init(responses: [TopicProduceResponse], throttleTimeMs: Int32 = 0) {
        self.responses = responses
        self.throttleTimeMs = throttleTimeMs
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> ProduceResponse {
        try KafkaAPIKey.produce.requireDataPathVersion(version)
        let responses = try buffer.readKafkaArray("responses", minimumElementSize: 6) { (b: inout ByteBuffer) throws(KafkaCodecError) in
            TopicProduceResponse(
                name: try b.readKafkaString("responses.name"),
                partitionResponses: try b.readKafkaArray("partition_responses",
                                                         minimumElementSize: PartitionProduceResponse.minimumSize(version: version)) {
                    (p: inout ByteBuffer) throws(KafkaCodecError) in try PartitionProduceResponse.decode(from: &p, version: version)
                })
        }
        let throttleTimeMs: Int32 = try buffer.readKafkaInteger("throttle_time_ms")
        return ProduceResponse(responses: responses, throttleTimeMs: throttleTimeMs)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaArray(responses) { b, topic in
            b.writeKafkaString(topic.name)
            b.writeKafkaArray(topic.partitionResponses) { p, partition in partition.encode(into: &p, version: version) }
        }
        buffer.writeKafkaInteger(throttleTimeMs)
    }
}
