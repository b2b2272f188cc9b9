import NIOCore

/// InitProducerId (key 22), versions 0-1 (non-flexible; v0 and v1 share one layout).
public struct InitProducerIdRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .initProducerId }

    /// Null for a non-transactional (idempotent-only) producer.
    public var transactionalId: String?
    public var transactionTimeoutMs: Int32

    public init(transactionalId: String?, transactionTimeoutMs: Int32) {
        self.transactionalId = transactionalId
        self.transactionTimeoutMs = transactionTimeoutMs
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        return InitProducerIdRequest(transactionalId: try buffer.readKafkaNullableString("transactional_id"),
                                     transactionTimeoutMs: try buffer.readKafkaInteger("transaction_timeout_ms"))
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaNullableString(transactionalId)
        buffer.writeKafkaInteger(transactionTimeoutMs)
    }
}

public struct InitProducerIdResponse: KafkaResponseBody, Hashable {
    public var throttleTimeMs: Int32
    public var errorCode: Int16
    public var producerId: Int64
    public var producerEpoch: Int16

    public init(throttleTimeMs: Int32 = 0, errorCode: Int16, producerId: Int64, producerEpoch: Int16) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.producerId = producerId
        self.producerEpoch = producerEpoch
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .initProducerId)
        return InitProducerIdResponse(throttleTimeMs: try buffer.readKafkaInteger("throttle_time_ms"),
                                      errorCode: try buffer.readKafkaInteger("error_code"),
                                      producerId: try buffer.readKafkaInteger("producer_id"),
                                      producerEpoch: try buffer.readKafkaInteger("producer_epoch"))
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaInteger(throttleTimeMs)
        buffer.writeKafkaInteger(errorCode)
        buffer.writeKafkaInteger(producerId)
        buffer.writeKafkaInteger(producerEpoch)
    }
}
