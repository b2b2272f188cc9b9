/// Open connections of one listener, in all and per client address, against Kafka's
/// max.connections and max.connections.per.ip: an accepted connection takes a slot, a closed
/// one gives it back, and one over either limit is refused (the caller closes it at once).
public struct ConnectionLimiter: Sendable, Hashable {
    public enum Decision: Sendable, Hashable {
        case accept
        case listenerFull(limit: Int)
        case addressFull(limit: Int)
    }

    public let maximumConnections: Int
    public let maximumConnectionsPerAddress: Int
    public private(set) var open = 0
    /// Only addresses with open connections: the map shrinks as they close.
    public private(set) var openByAddress: [String: Int] = [:]

    public init(maximumConnections: Int, maximumConnectionsPerAddress: Int) {
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerAddress = maximumConnectionsPerAddress
    }

    public mutating func acquire(address: String) -> Decision {
        guard open < maximumConnections else { return .listenerFull(limit: maximumConnections) }
        let current = openByAddress[address, default: 0]
        guard current < maximumConnectionsPerAddress else { return .addressFull(limit: maximumConnectionsPerAddress) }
        open += 1
        openByAddress[address] = current + 1
        return .accept
    }

    /// Gives back a slot taken by an accepted `acquire(address:)`.
    public mutating func release(address: String) {
        guard let current = openByAddress[address], current > 0 else { return }
        open -= 1
        openByAddress[address] = current > 1 ? current - 1 : nil
    }
}
