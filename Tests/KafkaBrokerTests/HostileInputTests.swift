import KafkaClient
import NIOCore
import NIOPosix
import PaynodeTestSupport
import Protocol
import Testing

/// Bytes no Kafka client sends: the broker closes that one connection, answers nothing, and
/// goes on serving every other connection.
struct HostileInputTests {
    static let hostileInputs: [(String, [UInt8])] = [
        // A frame claiming 2 GiB: refused from its size alone, before anything is buffered.
        ("oversized frame", [0x7F, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4]),
        // A frame too short to hold a request header.
        ("truncated header", [0, 0, 0, 3, 1, 2, 3]),
        // A well-formed header of an API key that does not exist.
        ("unknown API key", [0, 0, 0, 10, 0x7F, 0x7F, 0, 0, 0, 0, 0, 1, 0xFF, 0xFF]),
    ]

    @Test(arguments: hostileInputs)
    func aHostileFrameClosesOnlyItsOwnConnection(name: String, input: [UInt8]) async throws {
        try await InProcessBroker.run { broker in
            let bystander = try await broker.connect()
            let answer = try await Self.send(input, to: broker.port, awaitingCloseWithin: .seconds(5))
            #expect(answer.isEmpty, "\(name): the broker answered \(answer.count) bytes")
            let metadata = try await bystander.request(MetadataRequest(topics: nil))
            #expect(metadata.brokers.map(\.port) == [Int32(broker.port)], "\(name)")
            await bystander.close()
        }
    }

    /// Writes `input` on a fresh connection and returns what came back before the broker
    /// closed it; throws if it is still open after `timeout`.
    static func send(_ input: [UInt8], to port: Int, awaitingCloseWithin timeout: Duration) async throws -> [UInt8] {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        return try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
            group.addTask {
                try await channel.executeThenClose { inbound, outbound in
                    try await outbound.write(ByteBuffer(bytes: input))
                    var received: [UInt8] = []
                    do {
                        for try await chunk in inbound { received += Array(buffer: chunk) }
                    } catch {
                        // A reset (the broker closed with our bytes unread) is a close too.
                    }
                    return received
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let received = try await group.next() ?? nil else {
                try? await channel.channel.close()
                throw TestSupportError("the broker kept the connection open for \(timeout)")
            }
            return received
        }
    }
}
