import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing
@testable import HTTPPipelining

/// A real server on loopback and a client writing a whole pipeline in one segment: what
/// overlaps, what waits, and the order of the answers.
@Suite("Pipelined HTTP/1.1 channel", .timeLimit(.minutes(1)))
struct PipelinedHTTP1ChannelTests {
    static let key = HTTPField.Name("Idempotency-Key")!

    /// What the handlers saw: how many ran at once, how many finished.
    final class Probe: Sendable {
        private struct Counts { var running = 0, maximumRunning = 0, finished = 0 }
        private let counts = Mutex(Counts())
        /// A POST waits (up to `patience`) until this many run at once, so overlap is observed
        /// rather than left to timing.
        let together: Int
        let patience: Duration

        init(together: Int, patience: Duration = .seconds(2)) {
            self.together = together
            self.patience = patience
        }

        var maximumRunning: Int { counts.withLock { $0.maximumRunning } }
        var finished: Int { counts.withLock { $0.finished } }

        func post(key: String) async throws -> String {
            counts.withLock { $0.running += 1; $0.maximumRunning = max($0.maximumRunning, $0.running) }
            let deadline = ContinuousClock.now + patience
            while counts.withLock({ $0.running < together && $0.finished < together }), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(2))
            }
            if key.hasPrefix("slow") { try await Task.sleep(for: .milliseconds(150)) }
            counts.withLock { $0.running -= 1; $0.finished += 1 }
            return key
        }
    }

    struct Answer {
        var status: Int
        var head: String
        var body: String
    }

    func withServer(probe: Probe, maximumBodyBytes: Int = 1 << 20, limits: HTTPConnectionLimits? = nil,
                    _ body: @Sendable (Int) async throws -> Void) async throws {
        let router = Router()
        router.post("/orders") { request, _ -> String in
            _ = try await request.body.collect(upTo: 1 << 20)
            return try await probe.post(key: request.headers[Self.key] ?? "-")
        }
        router.get("/orders") { _, _ -> String in "finished=\(probe.finished)" }
        var configuration = PipelinedHTTP1Channel<RouterResponder<BasicRequestContext>>.Configuration(
            serverName: "test", maximumBodyBytes: maximumBodyBytes)
        configuration.limits = limits
        let channel = PipelinedHTTP1Channel(responder: router.buildResponder(), configuration: configuration) { head in
            head.method == .post ? head.headerFields[Self.key] : nil
        }
        let (ports, port) = AsyncStream.makeStream(of: Int.self)
        let server = channel.server(configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                                    onServerRunning: { port.yield($0.localAddress?.port ?? 0) },
                                    eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        let group = ServiceGroup(configuration: .init(services: [server], logger: Logger(label: "test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let bound = await iterator.next() ?? 0
            do {
                try await body(bound)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// Writes `requests` in one go and reads until the server closes.
    func exchange(port: Int, _ requests: String) async throws -> [Answer] {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        let received = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: requests))
            var received = ""
            for try await chunk in inbound { received += String(buffer: chunk) }
            return received
        }
        return received.components(separatedBy: "HTTP/1.1 ").dropFirst().map { text in
            let parts = text.components(separatedBy: "\r\n\r\n")
            return Answer(status: Int(text.prefix(3)) ?? 0, head: parts[0], body: parts.dropFirst().joined(separator: "\r\n\r\n"))
        }
    }

    func post(_ key: String, body: String = "{}", close: Bool = false) -> String {
        "POST /orders HTTP/1.1\r\nHost: test\r\nIdempotency-Key: \(key)\r\nContent-Length: \(body.utf8.count)\r\n"
            + (close ? "Connection: close\r\n" : "") + "\r\n" + body
    }

    func get(close: Bool = false) -> String {
        "GET /orders HTTP/1.1\r\nHost: test\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n"
    }

    @Test func commutingRequestsRunTogetherAndTheRestWaitsForThem() async throws {
        let probe = Probe(together: 4)
        try await withServer(probe: probe) { port in
            let answers = try await exchange(port: port, post("slow-a") + post("b") + post("c") + post("d") + get() + post("e", close: true))
            #expect(answers.map(\.body) == ["slow-a", "b", "c", "d", "finished=4", "e"])
            #expect(answers.allSatisfy { $0.status == 200 && $0.head.contains("Date: ") && $0.head.contains("Server: test") })
        }
        // The four keyed POSTs overlapped; the GET saw all four finished; "e" ran after it, alone.
        #expect(probe.maximumRunning == 4)
        #expect(probe.finished == 5)
    }

    @Test func theSameKeyRunsInTurn() async throws {
        let probe = Probe(together: 2, patience: .milliseconds(200))
        try await withServer(probe: probe) { port in
            let answers = try await exchange(port: port, post("slow-k") + post("slow-k") + post("slow-k", close: true))
            #expect(answers.map(\.body) == ["slow-k", "slow-k", "slow-k"])
        }
        #expect(probe.maximumRunning == 1)
    }

    @Test func aMalformedRequestIsAnsweredAfterTheOnesBeforeItAndCloses() async throws {
        let probe = Probe(together: 1)
        try await withServer(probe: probe) { port in
            let answers = try await exchange(port: port, post("slow-a") + post("b") + "NOT HTTP AT ALL\r\n\r\n" + post("never"))
            #expect(answers.map(\.status) == [200, 200, 400])
            #expect(answers.last?.head.lowercased().contains("connection: close") == true)
            #expect(answers.last?.body.contains("malformed_request") == true)
        }
        #expect(probe.finished == 2)
    }

    @Test func aBodyOverTheLimitIsRefusedAndCloses() async throws {
        let probe = Probe(together: 1)
        try await withServer(probe: probe, maximumBodyBytes: 100) { port in
            let answers = try await exchange(port: port, post("a") + post("b", body: String(repeating: "x", count: 101)) + post("never"))
            #expect(answers.map(\.status) == [200, 413])
            #expect(answers.last?.body.contains("body_too_large") == true)
        }
        #expect(probe.finished == 1)
    }

    @Test func dateHeaderIsAnIMFFixdate() {
        #expect(HTTPDateCache.format(secondsSince1970: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDateCache().current.hasSuffix(" GMT"))
    }
}
