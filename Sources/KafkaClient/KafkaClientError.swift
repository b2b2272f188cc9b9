import Protocol

/// Why a Kafka client operation failed: a broker error code (when the broker answered with one)
/// or a client-side condition, with a message naming the broker, topic and partition involved.
public struct KafkaClientError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// No broker could be reached (after the configured reconnect attempts).
        case connectionFailed
        /// The connection dropped while the request was in flight; it may or may not have been processed.
        case connectionClosed
        /// No response within the request timeout; the connection is closed, the request may have been processed.
        case requestTimedOut
        /// The broker answered with a Kafka error code (`kafkaErrorCode`).
        case brokerError
        /// A response that cannot be decoded or does not match its request.
        case protocolViolation
        /// The broker does not speak any version of an API that this client speaks.
        case unsupportedVersion
        /// The caller asked for something impossible (empty key list, bad configuration, unknown partition).
        case invalidArgument
        /// A record batch returned by the broker is corrupt (checksum or framing).
        case corruptRecord
        /// The producer gave up on a batch that may already be in the log (see `KafkaProducer`).
        case deliveryUncertain
        /// The client or producer was shut down.
        case shutDown
    }

    public var code: Code
    /// The raw Kafka error code for `.brokerError` (and for `.deliveryUncertain` when the broker sent one).
    public var kafkaErrorCode: Int16?
    public var message: String
    public var broker: String?
    public var topic: String?
    public var partition: Int32?

    public init(_ code: Code, _ message: String, kafkaErrorCode: Int16? = nil, broker: String? = nil,
                topic: String? = nil, partition: Int32? = nil) {
        self.code = code
        self.message = message
        self.kafkaErrorCode = kafkaErrorCode
        self.broker = broker
        self.topic = topic
        self.partition = partition
    }

    /// A broker answer with a non-zero error code.
    public static func broker(_ errorCode: Int16, _ message: String, broker: String? = nil, topic: String? = nil,
                              partition: Int32? = nil) -> KafkaClientError {
        KafkaClientError(.brokerError, message, kafkaErrorCode: errorCode, broker: broker, topic: topic, partition: partition)
    }

    /// The Kafka error code as a known case, when it is one.
    public var kafkaError: KafkaErrorCode? { kafkaErrorCode.flatMap(KafkaErrorCode.init(rawValue:)) }

    /// Whether trying again (after a back-off, on a new connection or fresh metadata) can succeed.
    public var isRetriable: Bool {
        switch code {
        case .connectionFailed, .connectionClosed, .requestTimedOut: true
        case .brokerError: kafkaErrorCode.map(Self.isRetriable(kafkaErrorCode:)) ?? false
        case .protocolViolation, .unsupportedVersion, .invalidArgument, .corruptRecord, .deliveryUncertain, .shutDown: false
        }
    }

    /// Kafka's `RetriableException` codes that a single-broker client can recover from by waiting.
    public static func isRetriable(kafkaErrorCode code: Int16) -> Bool {
        switch KafkaErrorCode(rawValue: code) {
        case .unknownTopicOrPartition?, .leaderNotAvailable?, .notLeaderOrFollower?, .requestTimedOut?,
             .coordinatorLoadInProgress?, .coordinatorNotAvailable?, .notCoordinator?, .notEnoughReplicas?,
             .kafkaStorageError?:
            true
        default:
            code == 13 || code == 20  // NETWORK_EXCEPTION, NOT_ENOUGH_REPLICAS_AFTER_APPEND
        }
    }

    public var description: String {
        var parts: [String] = []
        if let kafkaErrorCode {
            parts.append("kafka error \(kafkaErrorCode)\(kafkaError.map { " (\($0))" } ?? "")")
        } else {
            parts.append("\(code)")
        }
        var place: [String] = []
        if let broker { place.append("broker \(broker)") }
        if let topic { place.append(partition.map { "\(topic)-\($0)" } ?? "topic \(topic)") }
        if !place.isEmpty { parts.append("[" + place.joined(separator: ", ") + "]") }
        parts.append(message)
        return parts.joined(separator: " ")
    }
}
