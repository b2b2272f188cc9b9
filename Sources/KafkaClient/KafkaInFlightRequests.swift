import NIOCore

/// The requests written on one connection and not yet answered, in write order. A Kafka broker
/// answers the requests of a connection in the order it received them, so each response must
/// carry the correlation id of the oldest entry; anything else means the stream is out of sync
/// and the connection must be dropped. Pure state, tested without a channel.
struct KafkaInFlightRequests<Token> {
    enum ReceiveAction {
        /// The response answers this request.
        case deliver(Token)
        /// The response matches no request in order: fail everything and close.
        case protocolViolation(expected: Int32?, failed: [Token])
    }

    private var entries = CircularBuffer<(correlationId: Int32, token: Token)>()

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    mutating func append(correlationId: Int32, token: Token) {
        entries.append((correlationId, token))
    }

    mutating func receive(correlationId: Int32) -> ReceiveAction {
        guard let oldest = entries.first else {
            return .protocolViolation(expected: nil, failed: [])
        }
        guard oldest.correlationId == correlationId else {
            return .protocolViolation(expected: oldest.correlationId, failed: removeAll())
        }
        entries.removeFirst()
        return .deliver(oldest.token)
    }

    /// Whether the request is still waiting (for timeouts).
    func contains(correlationId: Int32) -> Bool {
        entries.contains { $0.correlationId == correlationId }
    }

    /// Empties the queue (connection lost, timeout), oldest first.
    mutating func removeAll() -> [Token] {
        let tokens = entries.map(\.token)
        entries.removeAll(keepingCapacity: true)
        return tokens
    }
}
