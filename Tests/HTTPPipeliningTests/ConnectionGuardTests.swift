import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import HTTPPipelining

@Suite("HTTP connection limits and deadlines", .timeLimit(.minutes(1)))
struct ConnectionGuardTests {
    static let second: UInt64 = 1_000_000_000

    func deadlines(idle: Int = 60, request: Int = 10) -> ConnectionDeadlines {
        ConnectionDeadlines(idleTimeout: .seconds(idle), requestTimeout: .seconds(request), now: 1000 * Self.second)
    }

    @Test func anUnusedConnectionHasTheIdleDeadline() {
        let clock = deadlines()
        #expect(clock.deadline?.at == 1060 * Self.second)
        #expect(clock.deadline?.reason == .idleTimeout)
    }

    @Test func aRequestMustArriveWithinTheRequestTimeoutOfItsFirstByte() {
        var clock = deadlines()
        clock.bytesArrived(now: 1005 * Self.second)
        // More bytes do not extend it: a slow client is timed from its request's first byte.
        clock.bytesArrived(now: 1009 * Self.second)
        clock.headRead(now: 1010 * Self.second)
        #expect(clock.deadline?.at == 1015 * Self.second)
        #expect(clock.deadline?.reason == .requestTimeout)
    }

    @Test func whileAnswersAreOwedNothingIsTimedThenTheIdleClockRestarts() {
        var clock = deadlines()
        clock.bytesArrived(now: 1001 * Self.second)
        clock.requestRead()
        #expect(clock.deadline == nil)
        clock.answerWritten(now: 1300 * Self.second)
        #expect(clock.deadline?.at == 1360 * Self.second)
        #expect(clock.deadline?.reason == .idleTimeout)
    }

    @Test func aPipelinedRequestBeingReadIsTimedEvenWithAnswersOwed() {
        var clock = deadlines()
        clock.bytesArrived(now: 1001 * Self.second)
        clock.requestRead()
        clock.headRead(now: 1002 * Self.second)  // the next request's head came with the first
        #expect(clock.deadline?.at == 1012 * Self.second)
        clock.requestRead()
        clock.answerWritten(now: 1003 * Self.second)
        #expect(clock.deadline == nil)  // one answer still owed
        clock.answerWritten(now: 1004 * Self.second)
        clock.answerWritten(now: 1005 * Self.second)  // an answer the channel made itself: no underflow
        #expect(clock.unanswered == 0)
        #expect(clock.deadline?.at == 1065 * Self.second)
    }

    @Test func durationsConvertWithoutTraps() {
        #expect(ConnectionDeadlines.nanoseconds(.milliseconds(1500)) == 1_500_000_000)
        #expect(ConnectionDeadlines.nanoseconds(.seconds(-5)) == 0)
        #expect(ConnectionDeadlines.nanoseconds(.seconds(Int64.max)) == 1 << 62)
        let far = ConnectionDeadlines(idleTimeout: .seconds(Int64.max), requestTimeout: .seconds(Int64.max), now: UInt64.max - 1)
        #expect(far.deadline != nil)
    }

    @Test func theCounterRefusesOverEitherLimitAndGivesPlacesBack() {
        let counter = HTTPConnectionCounter(limits: .init(maximumConnections: 3, maximumConnectionsPerAddress: 2))
        #expect(counter.open(address: "10.0.0.1") == nil)
        #expect(counter.open(address: "10.0.0.1") == nil)
        #expect(counter.open(address: "10.0.0.1") == .addressLimit)
        #expect(counter.open(address: "10.0.0.2") == nil)
        #expect(counter.open(address: "10.0.0.3") == .listenerLimit)
        #expect(counter.open(address: nil) == .listenerLimit)
        #expect(counter.openConnections == 3)
        counter.close(address: "10.0.0.1")
        #expect(counter.open(address: "10.0.0.1") == nil)
        counter.close(address: "10.0.0.1")
        counter.close(address: "10.0.0.1")
        counter.close(address: "10.0.0.2")
        #expect(counter.openConnections == 0)
        counter.close(address: "10.0.0.2")  // more closes than opens: no negative count
        #expect(counter.openConnections == 0)
        let unlimited = HTTPConnectionCounter(limits: .init(maximumConnections: 10, maximumConnectionsPerAddress: 0))
        for _ in 0..<10 { #expect(unlimited.open(address: "10.0.0.1") == nil) }
        #expect(unlimited.open(address: "10.0.0.1") == .listenerLimit)
    }

    @Test func refusalWarningsAreRateLimitedAndCountWhatTheySkipped() {
        let count = RateLimitedCount(interval: .seconds(10))
        let start = ContinuousClock.now
        #expect(count.record(now: start) == 1)
        #expect(count.record(now: start + .seconds(1)) == nil)
        #expect(count.record(now: start + .seconds(9)) == nil)
        #expect(count.record(now: start + .seconds(10)) == 3)
        #expect(count.record(now: start + .seconds(11)) == nil)
        #expect(count.record(now: start + .seconds(30)) == 2)
    }

    /// Reads from a raw connection until the server closes it; the bytes and how long it took.
    static func readUntilClosed(port: Int, sending: String) async throws -> (String, Duration) {
        let started = ContinuousClock.now
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        let received = try await channel.executeThenClose { inbound, outbound in
            if !sending.isEmpty { try await outbound.write(ByteBuffer(string: sending)) }
            var received = ""
            do {
                for try await chunk in inbound { received += String(buffer: chunk) }
            } catch {}
            return received
        }
        return (received, ContinuousClock.now - started)
    }

    @Test func aSlowRequestIsClosedAtTheRequestTimeoutAndAnIdleConnectionAtTheIdleTimeout() async throws {
        // Far apart, so a loaded machine (make test runs suites in parallel on 2 cores) cannot
        // make one deadline pass for the other.
        let limits = HTTPConnectionLimits(idleTimeout: .seconds(3), requestTimeout: .milliseconds(300))
        try await PipelinedHTTP1ChannelTests().withServer(probe: .init(together: 1), limits: limits) { port in
            // Half a head, never finished (slowloris): closed at the request timeout, unanswered.
            let (slow, slowTook) = try await Self.readUntilClosed(port: port, sending: "GET /orders HTTP/1.1\r\nHost: te")
            #expect(slow.isEmpty)
            #expect(slowTook >= .milliseconds(250) && slowTook < .milliseconds(2_700))
            let (idle, idleTook) = try await Self.readUntilClosed(port: port, sending: "")
            #expect(idle.isEmpty)
            #expect(idleTook >= .milliseconds(2_900) && idleTook < .seconds(10))
        }
    }

    @Test func aBodySentSlowlyIsClosedAtTheRequestTimeoutButAQuickRequestIsAnswered() async throws {
        let limits = HTTPConnectionLimits(idleTimeout: .seconds(5), requestTimeout: .milliseconds(400))
        try await PipelinedHTTP1ChannelTests().withServer(probe: .init(together: 1), limits: limits) { port in
            let started = ContinuousClock.now
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                }
            // The head at once, then the body one byte every 100 ms: each byte arrives well
            // within an idle timeout, yet the request as a whole is too slow.
            let received = try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(string: "POST /orders HTTP/1.1\r\nHost: test\r\nIdempotency-Key: k\r\nContent-Length: 40\r\n\r\n"))
                let writer = Task {
                    for _ in 0..<40 {
                        try await Task.sleep(for: .milliseconds(100))
                        try await outbound.write(ByteBuffer(string: "x"))
                    }
                }
                var received = ""
                do {
                    for try await chunk in inbound { received += String(buffer: chunk) }
                } catch {}
                writer.cancel()
                return received
            }
            let took = ContinuousClock.now - started
            #expect(received.isEmpty)
            #expect(took >= .milliseconds(350) && took < .milliseconds(4_500))  // the request timeout, not the idle one
            let answers = try await PipelinedHTTP1ChannelTests().exchange(port: port, PipelinedHTTP1ChannelTests().post("quick", close: true))
            #expect(answers.map(\.status) == [200])
        }
    }

    @Test func aConnectionOverTheLimitIsAnswered503AndClosed() async throws {
        let limits = HTTPConnectionLimits(maximumConnections: 1, maximumConnectionsPerAddress: 0)
        try await PipelinedHTTP1ChannelTests().withServer(probe: .init(together: 1), limits: limits) { port in
            let holder = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
            try await Task.sleep(for: .milliseconds(500))  // the server has accepted it, even on a loaded machine
            let (refused, _) = try await Self.readUntilClosed(port: port, sending: "GET /orders HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(refused.hasPrefix("HTTP/1.1 503"))
            #expect(refused.contains("too_many_connections"))
            try await holder.close()
            // The place is given back when the first connection closes.
            var answer = ""
            for _ in 0..<250 where !answer.hasPrefix("HTTP/1.1 200") {
                try await Task.sleep(for: .milliseconds(20))
                answer = try await Self.readUntilClosed(port: port, sending: "GET /orders HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").0
            }
            #expect(answer.hasPrefix("HTTP/1.1 200"))
        }
    }
}
