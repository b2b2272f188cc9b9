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

    private var entries: [(correlationId: Int32, token: Token)] = []
    private var head = 0

    var count: Int { entries.count - head }
    var isEmpty: Bool { count == 0 }

    mutating func append(correlationId: Int32, token: Token) {
        entries.append((correlationId, token))
    }

    mutating func receive(correlationId: Int32) -> ReceiveAction {
        guard head < entries.count else {
            return .protocolViolation(expected: nil, failed: [])
        }
        let oldest = entries[head]
        guard oldest.correlationId == correlationId else {
            return .protocolViolation(expected: oldest.correlationId, failed: removeAll())
        }
        head += 1
        compactIfNeeded()
        return .deliver(oldest.token)
    }

    /// Whether the request is still waiting (for timeouts).
    func contains(correlationId: Int32) -> Bool {
        entries[head...].contains { $0.correlationId == correlationId }
    }

    /// Empties the queue (connection lost, timeout), oldest first.
    mutating func removeAll() -> [Token] {
        let tokens = entries[head...].map(\.token)
        entries.removeAll()
        head = 0
        return tokens
    }

    private mutating func compactIfNeeded() {
        if head == entries.count {
            entries.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64, head * 2 >= entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }
}
