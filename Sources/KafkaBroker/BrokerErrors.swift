import LogStore
import Protocol

extension LogStoreError {
    /// The Kafka error code a client gets for this store error.
    var kafkaErrorCode: KafkaErrorCode {
        switch code {
        case .unknownTopicOrPartition: .unknownTopicOrPartition
        case .offsetOutOfRange: .offsetOutOfRange
        case .invalidTopicName: .invalidTopicException
        case .invalidPartitions: .invalidPartitions
        case .topicAlreadyExists: .topicAlreadyExists
        case .invalidRecord: .invalidRecord
        case .corruptMessage: .corruptMessage
        case .unsupportedCompression: .unsupportedCompressionType
        case .recordTooLarge: .messageTooLarge
        case .outOfOrderSequence: .outOfOrderSequenceNumber
        case .invalidProducerEpoch: .invalidProducerEpoch
        // Retriable for clients: they back off and retry once space is freed.
        case .outOfSpace, .corruptBatch, .storageFailure: .kafkaStorageError
        // The write was not attempted (the group-commit queue is full): retriable, as a
        // produce that did not complete in time is in Kafka.
        case .overloaded: .requestTimedOut
        case .tooManyPartitions: .invalidPartitions
        case .invalidArgument, .invalidConfiguration: .invalidRequest
        case .dataDirectoryInUse, .incompatibleFormat, .storeClosed: .unknownServerError
        }
    }
}

func kafkaErrorCode(for error: any Error) -> KafkaErrorCode {
    (error as? LogStoreError)?.kafkaErrorCode ?? .unknownServerError
}
