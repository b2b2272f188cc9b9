import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP2
import NIOHTTPTypes
import NIOHTTPTypesHTTP2
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing
@testable import HTTPPipelining

/// HTTP/2 with prior knowledge (h2c) and HTTP/1.1 on one plaintext listener, served in process
/// to a NIOHTTP2 client.
@Suite("HTTP/2 channel", .timeLimit(.minutes(1)))
struct HTTP2ChannelTests {
    typealias Responder = RouterResponder<BasicRequestContext>

    struct Answer {
        var status: Int
        var headers: HTTPFields
        var body: String
    }

    func withServer(maximumBodyBytes: Int = 1024, limits: HTTPConnectionLimits = .init(), maximumStreams: Int = 100,
                    _ body: @Sendable (Int, HTTPConnectionCounter?) async throws -> Void) async throws {
        let router = Router()
        router.get("/hello") { _, _ -> String in "hello" }
        router.post("/echo") { request, _ -> String in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            return "echo:" + String(buffer: bytes)
        }
        router.get("/slow") { _, _ -> String in
            try await Task.sleep(for: .milliseconds(200))
            return "slow"
        }
        var http1Configuration = PipelinedHTTP1Channel<Responder>.Configuration(serverName: "test", maximumBodyBytes: maximumBodyBytes)
        var limits = limits
        limits.http2MaximumConcurrentStreams = maximumStreams
        http1Configuration.limits = limits
        let responder = router.buildResponder()
        let http1 = PipelinedHTTP1Channel(responder: responder, configuration: http1Configuration)
        let http2 = HTTP2StreamsChannel(responder: responder, configuration: .init(matching: http1Configuration))
        let channel = HTTPVersionChannel(http1: http1, http2: http2, negotiation: .priorKnowledge)
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
                try await body(bound, channel.connections)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    typealias ClientStreams = NIOHTTP2Handler.AsyncStreamMultiplexer<Void>

    /// An h2c connection with prior knowledge; `body` sends requests on it.
    func withHTTP2Connection<T: Sendable>(port: Int, _ body: (ClientStreams) async throws -> T) async throws -> T {
        let (channel, streams) = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let streams = try channel.pipeline.syncOperations.configureAsyncHTTP2Pipeline(mode: .client) { stream in
                        stream.eventLoop.makeSucceededVoidFuture()
                    }
                    return (channel, streams)
                }
            }
        do {
            let result = try await body(streams)
            try await channel.close()
            return result
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// One request on its own stream.
    func send(_ streams: ClientStreams, _ method: HTTPRequest.Method, _ path: String, body: String? = nil) async throws -> Answer {
        let stream = try await streams.openStream { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTPClientCodec())
                return try NIOAsyncChannel<HTTPResponsePart, HTTPRequestPart>(wrappingChannelSynchronously: channel)
            }
        }
        return try await stream.executeThenClose { inbound, outbound in
            let head = HTTPRequest(method: method, scheme: "http", authority: "test", path: path)
            try await outbound.write(.head(head))
            if let body { try await outbound.write(.body(ByteBuffer(string: body))) }
            try await outbound.write(.end(nil))
            var answer = Answer(status: 0, headers: [:], body: "")
            for try await part in inbound {
                switch part {
                case .head(let response):
                    answer.status = response.status.code
                    answer.headers = response.headerFields
                case .body(let bytes):
                    answer.body += String(buffer: bytes)
                case .end:
                    return answer
                }
            }
            return answer
        }
    }

    @Test func thePrefaceDecidesTheVersion() {
        let preface = HTTP2PrefaceDetector<Int>.preface
        #expect(HTTP2PrefaceDetector<Int>.classify(ByteBuffer(string: preface).readableBytesView) == .http2)
        #expect(HTTP2PrefaceDetector<Int>.classify(ByteBuffer(string: preface + "\0\0").readableBytesView) == .http2)
        #expect(HTTP2PrefaceDetector<Int>.classify(ByteBuffer(string: "PRI * HTTP/2").readableBytesView) == .undecided)
        #expect(HTTP2PrefaceDetector<Int>.classify(ByteBuffer().readableBytesView) == .undecided)
        #expect(HTTP2PrefaceDetector<Int>.classify(ByteBuffer(string: "GET / HTTP/1.1\r\n").readableBytesView) == .http1)
        #expect(HTTP2PrefaceDetector<Int>.classify(ByteBuffer(string: "PRI * HTTP/1.1\r\n").readableBytesView) == .http1)
    }

    @Test func anHTTP2ConnectionIsIdleOnlyWithoutOpenStreams() {
        var deadlines = ConnectionDeadlines(idleTimeout: .seconds(60), requestTimeout: .seconds(10), now: 0)
        deadlines.bytesArrived(now: 5)  // the preface, or a TLS handshake
        #expect(deadlines.deadline?.reason == .requestTimeout)
        deadlines.servesStreams(now: 7)
        #expect(deadlines.deadline?.at == 7 + 60_000_000_000)
        #expect(deadlines.deadline?.reason == .idleTimeout)
        deadlines.bytesArrived(now: 8)  // frames say nothing about one request
        deadlines.headRead(now: 8)
        #expect(deadlines.deadline?.reason == .idleTimeout)
        deadlines.streamOpened()
        deadlines.streamOpened()
        #expect(deadlines.deadline == nil)
        deadlines.streamClosed(now: 9)
        #expect(deadlines.deadline == nil)
        deadlines.streamClosed(now: 10)
        #expect(deadlines.deadline?.at == 10 + 60_000_000_000)
    }

    @Test func streamsAreServedByTheRouterAndHTTP1StillWorks() async throws {
        try await withServer { port, _ in
            let answers = try await withHTTP2Connection(port: port) { streams in
                try await withThrowingTaskGroup(of: Answer.self) { group in
                    for index in 0..<20 {
                        group.addTask {
                            index.isMultiple(of: 2)
                                ? try await send(streams, .get, "/slow")
                                : try await send(streams, .post, "/echo", body: "n\(index)")
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            #expect(answers.map(\.status) == Array(repeating: 200, count: 20))
            #expect(answers.filter { $0.body == "slow" }.count == 10)
            #expect(Set(answers.map(\.body)).isSuperset(of: (0..<20).filter { !$0.isMultiple(of: 2) }.map { "echo:n\($0)" }))
            #expect(answers.allSatisfy { $0.headers[.server] == "test" && $0.headers[.date] != nil })
            let http1 = try await PipelinedHTTP1ChannelTests().exchange(port: port, "GET /hello HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            #expect(http1.map(\.status) == [200])
            #expect(http1.first?.body == "hello")
        }
    }

    @Test func aBodyOverTheLimitIsAnswered413AndTheConnectionGoesOn() async throws {
        try await withServer(maximumBodyBytes: 1024) { port, _ in
            let (refused, after) = try await withHTTP2Connection(port: port) { streams in
                (try await send(streams, .post, "/echo", body: String(repeating: "x", count: 5000)),
                 try await send(streams, .get, "/hello"))
            }
            #expect(refused.status == 413)
            #expect(refused.body.contains(#""code":"body_too_large""#))
            #expect(refused.headers[.connection] == nil)
            #expect(after.status == 200)
            #expect(after.body == "hello")
        }
    }

    @Test func garbageAfterThePrefaceEndsOnlyThatConnection() async throws {
        try await withServer { port, connections in
            let garbage = HTTP2PrefaceDetector<Int>.preface + String(repeating: "\u{7}garbage\0\u{1}", count: 50)
            let (closed, _) = try await ConnectionGuardTests.readUntilClosed(port: port, sending: garbage)
            // NIOHTTP2 answers with its SETTINGS and a GOAWAY, then closes; nothing crashes.
            #expect(!closed.contains("HTTP/1.1"))
            let answer = try await withHTTP2Connection(port: port) { streams in try await send(streams, .get, "/hello") }
            #expect(answer.status == 200)
            // Both connections gave their place back.
            for _ in 0..<100 where connections?.openConnections != 0 { try await Task.sleep(for: .milliseconds(20)) }
            #expect(connections?.openConnections == 0)
        }
    }

    @Test func aStreamWhoseRequestDoesNotArriveInTimeIsReset() async throws {
        let limits = HTTPConnectionLimits(idleTimeout: .seconds(5), requestTimeout: .milliseconds(300))
        try await withServer(limits: limits) { port, _ in
            try await withHTTP2Connection(port: port) { streams in
                let stream = try await streams.openStream { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTPClientCodec())
                        return try NIOAsyncChannel<HTTPResponsePart, HTTPRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
                let started = ContinuousClock.now
                let ended: Bool = try await stream.executeThenClose { inbound, outbound in
                    try await outbound.write(.head(HTTPRequest(method: .post, scheme: "http", authority: "test", path: "/echo")))
                    do {
                        for try await _ in inbound {}
                    } catch {}
                    return true
                }
                #expect(ended)
                #expect(ContinuousClock.now - started < .seconds(4))
                // The connection and its other streams go on.
                let answer = try await send(streams, .get, "/hello")
                #expect(answer.status == 200)
            }
        }
    }

    @Test func aGracefulShutdownDoesNotWaitForConnectionsThatAskedForNothing() async throws {
        let held = Mutex<[any Channel]>([])
        let started = ContinuousClock.now
        try await withServer(limits: HTTPConnectionLimits(idleTimeout: .seconds(60), requestTimeout: .seconds(60))) { port, _ in
            for opening in ["", HTTP2PrefaceDetector<Int>.preface + "\0\0\0\u{4}\0\0\0\0\0", "PRI * HTTP/2"] {
                // Silent, an HTTP/2 connection that never reads (nor acknowledges the GOAWAY's
                // PING), and one still undecided.
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .channelOption(ChannelOptions.autoRead, value: false)
                    .connect(host: "127.0.0.1", port: port).get()
                if !opening.isEmpty { try await channel.writeAndFlush(ByteBuffer(string: opening)) }
                held.withLock { $0.append(channel) }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        for channel in held.withLock({ $0 }) { try? await channel.close() }
    }

    @Test func aConnectionClosedBeforeItsFirstByteGivesItsPlaceBack() async throws {
        try await withServer { port, connections in
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .connect(host: "127.0.0.1", port: port).get()
            for _ in 0..<100 where connections?.openConnections != 1 { try await Task.sleep(for: .milliseconds(20)) }
            #expect(connections?.openConnections == 1)
            // Only the client's output: the server sees the end of its input, not a close.
            try await channel.close(mode: .output)
            for _ in 0..<100 where connections?.openConnections != 0 { try await Task.sleep(for: .milliseconds(20)) }
            #expect(connections?.openConnections == 0)
            try? await channel.close()
        }
    }
}
