import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import loadtest

@Suite struct TokenMixTests {
    @Test func weightsGiveAnExactMixOverEachBlock() throws {
        let mix = try #require(TokenMix(argument: "tok_visa=3,tok_pending=1"))
        let tokens = (0..<8).map(mix.token(for:))
        #expect(tokens.filter { $0 == "tok_visa" }.count == 6)
        #expect(tokens.filter { $0 == "tok_pending" }.count == 2)
        #expect(mix.description == "tok_visa=3,tok_pending=1")
    }

    @Test func malformedMixesAreRefused() {
        #expect(TokenMix(argument: "") == nil)
        #expect(TokenMix(argument: "tok_visa=0") == nil)
        #expect(TokenMix(argument: "tok_visa=x") == nil)
    }

    @Test func everyTokenHasTheOutcomeTheContractGivesIt() {
        #expect(TokenExpectation.forToken("tok_pending").resultStatuses == ["PENDING", "SUCCESSFUL"])
        #expect(TokenExpectation.forToken("tok_flaky").finalStatus == "SUCCESSFUL")
        #expect(TokenExpectation.forToken("tok_chargeDeclined").errorCode == "card_declined")
        #expect(TokenExpectation.forToken("tok_insufficientFunds").errorCode == "insufficient_funds")
        #expect(TokenExpectation.forToken("tok_whatever").errorCode == "invalid_payment_method")
    }
}

@Suite struct ParsingTests {
    @Test func readyLinesGiveThePorts() {
        #expect(ReadyPorts.parse("paynode service ready http=8080 kafka=9092", node: "service") == ReadyPorts(http: 8080, kafka: 9092))
        #expect(ReadyPorts.parse("paynode service ready http=8080 kafka=9092 ops=9464", node: "service") == ReadyPorts(http: 8080, kafka: 9092))
        #expect(ReadyPorts.parse("paynode executor ready http=8081", node: "executor") == ReadyPorts(http: 8081, kafka: nil))
        #expect(ReadyPorts.parse("paynode service ready http=1 kafka=2", node: "executor") == nil)
        #expect(ReadyPorts.parse("2026 info paynode.service: starting", node: "service") == nil)
    }

    @Test func secondsRanges() throws {
        let range = try #require(SecondsRange(argument: "2-6"))
        #expect(range.lower == 2 && range.upper == 6)
        #expect(SecondsRange(argument: "3")?.upper == 3)
        #expect(SecondsRange(argument: "6-2") == nil)
        #expect(SecondsRange(argument: "0") == nil)
        var generator = SeededGenerator(seed: 1)
        for _ in 0..<100 {
            let value = range.random(using: &generator)
            #expect(value >= .seconds(2) && value <= .seconds(6))
        }
    }

    @Test func idempotencyKeysAreStablePerIndexAndDistinct() {
        let sequential = IdempotencyKeys(scheme: .sequential, runId: "lt-1")
        #expect(sequential.key(for: 7) == "lt-1-7")
        let random = IdempotencyKeys(scheme: .random, runId: "lt-1")
        #expect(random.key(for: 7) == random.key(for: 7))  // a retry sends the same key
        let keys = (0..<10_000).map(random.key(for:))
        #expect(Set(keys).count == keys.count)
        #expect(keys.allSatisfy { $0.prefix(16).allSatisfy(\.isHexDigit) && $0.hasSuffix("-lt-1-\($0.split(separator: "-").last!)") })
        // Consecutive orders land far apart in key order (unlike sequential keys).
        #expect(keys[0].prefix(2) != keys[1].prefix(2) || keys[1].prefix(2) != keys[2].prefix(2))
    }

    @Test func theOrderIdIsFoundInACreatedOrder() {
        let body = ByteBuffer(string: #"{"amount":5,"paymentOrderId":"01a2-b","status":"PENDING"}"#)
        #expect(OrderDriver.paymentOrderId(inBody: body) == "01a2-b")
        #expect(OrderDriver.paymentOrderId(inBody: ByteBuffer(string: "{}")) == nil)
        func id(_ text: String) -> String? { OrderDriver.paymentOrderId(inBody: ByteBuffer(string: text)) }
        #expect(id(#"{"paymentOrderId":"x"}"#) == "x")
        #expect(id(#"{"paymentOrder":"y","paymentOrderId":"z"}"#) == "z")
        #expect(id(#"{"a":"\"paymentOrderId\"","paymentOrderId":""}"#) == "")
        #expect(id(#"{"paymentOrderId":"unterminated"#) == nil)
        #expect(id(#"{"paymentOrderId":""#) == nil)
        #expect(id(#""paymentOrderId""#) == nil)
    }
}

@Suite struct ScheduleAndLatencyTests {
    @Test func aFixedRateSpacesIntendedStartsEvenly() {
        let schedule = LoadSchedule(ratePerSecond: 1000, start: 5_000_000, end: 6_000_000, maximumOperations: .max)
        #expect(schedule.intendedStart(of: 0, now: 0) == 5_000_000)
        #expect(schedule.intendedStart(of: 250, now: 0) == 5_250_000)
        #expect(schedule.includes(999, now: 0))
        #expect(!schedule.includes(1000, now: 0))
        let capped = LoadSchedule(ratePerSecond: nil, start: 0, end: .max, maximumOperations: 10)
        #expect(capped.intendedStart(of: 7, now: 42) == 42)
        #expect(!capped.includes(10, now: 0))
    }

    /// A terminal event seen before its order's HTTP answer was processed still counts, once;
    /// repeats and other runs' orders do not complete this run's orders.
    @Test func theLedgerJoinsTerminalEventsToOrdersInEitherOrder() {
        let ledger = RunLedger(clock: RunClock())
        ledger.accepted(OrderEntry(index: 0, token: "tok_visa", intendedAt: 1, paymentOrderId: "a"))
        ledger.terminalSeen(["b", "a", "a", "other-run"], at: 50)
        #expect(ledger.everyAcceptedOrderTerminal)
        ledger.accepted(OrderEntry(index: 1, token: "tok_visa", intendedAt: 2, paymentOrderId: "b"))
        #expect(ledger.everyAcceptedOrderTerminal)  // b's event came first and is joined now
        ledger.accepted(OrderEntry(index: 2, token: "tok_visa", intendedAt: 3, paymentOrderId: "c"))
        #expect(!ledger.everyAcceptedOrderTerminal)
        #expect(ledger.completedCount == 3)  // a, b and the other run's order; the repeat once
        let snapshot = ledger.snapshot()
        #expect(snapshot.orders.map(\.terminalSeenAt) == [50, 50, nil] && snapshot.repeatedTerminalEvents == ["a": 1])
        ledger.terminalSeen(["b"], at: 60)
        #expect(ledger.snapshot().orders[1].terminalSeenAt == 50)
        #expect(ledger.terminal.load(ordering: .relaxed) == ledger.completedCount)
    }

    /// `--max-outstanding`: no new order while that many sent orders are not terminal; a
    /// terminal event frees a place.
    @Test func theOutstandingBoundHoldsNewOrdersBackUntilOrdersComplete() {
        let ledger = RunLedger(clock: RunClock())
        let queue = OrderQueue(schedule: LoadSchedule(ratePerSecond: nil, start: 0, end: .max, maximumOperations: 100),
                               clock: ledger.clock, deadline: .seconds(60), ledger: ledger, maximumOutstanding: 2)
        #expect(queue.take()?.index == 0)
        #expect(queue.take()?.index == 1)
        #expect(queue.take() == nil)
        queue.settled()
        #expect(queue.take() == nil)  // answered is not terminal
        ledger.terminalSeen(["first"], at: 10)
        #expect(queue.take()?.index == 2)
        #expect(queue.take() == nil)
        #expect(!queue.isDone)
    }

    /// A stall charges every operation it delayed: latency counts from the intended start.
    @Test func latencyCountsFromTheIntendedStart() {
        // All four complete together at 10 ms, after a stall: 10, 9, 8 and 7 ms.
        let orders = (0..<4).map {
            OrderEntry(index: $0, token: "tok_visa", intendedAt: UInt64($0) * 1000, paymentOrderId: "o\($0)", terminalSeenAt: 10_000)
        }
        let analysis = LatencyAnalysis(orders: orders)
        #expect(analysis.completed == 4)
        #expect(analysis.histogram.max >= 9_990 && analysis.histogram.min <= 7_010)
        let summary = LatencySummary(analysis.histogram)
        #expect(summary.p50 >= 7.9 && summary.p50 <= 9.1)
    }
}

@Suite struct FaultProxyTests {
    /// Latency is added per chunk, bytes arrive intact and in order, and a reset closes the
    /// client's connection.
    @Test func theProxyDelaysAndResets() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let echo = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(EchoHandler()) } }
            .bind(host: "127.0.0.1", port: 0).get()
        let proxy = FaultProxy(upstreamHost: "127.0.0.1", upstreamPort: echo.localAddress!.port!,
                               settings: .init(latencyMilliseconds: 40, jitterMilliseconds: 10))
        let port = try await proxy.start()
        let received = Locked<[UInt8]>([])
        let client = try await ClientBootstrap(group: group)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(CollectHandler(into: received)) } }
            .connect(host: "127.0.0.1", port: port).get()
        let started = ContinuousClock.now
        for chunk in 0..<20 { try await client.writeAndFlush(ByteBuffer(bytes: [UInt8(chunk)])).get() }
        // Generous: under a loaded CI machine the delayed chunks took longer than 5 s to come back.
        while received.value.count < 20, ContinuousClock.now - started < .seconds(30) { try await Task.sleep(for: .milliseconds(5)) }
        #expect(received.value == (0..<20).map(UInt8.init))
        // There and back: at least twice the latency.
        #expect(ContinuousClock.now - started >= .milliseconds(80))
        proxy.resetAll()
        try await client.closeFuture.get()
        #expect(proxy.resets.load(ordering: .relaxed) == 1)
        proxy.stop()
        try await echo.close()
    }
}

private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.writeAndFlush(data, promise: nil) }
}

private final class CollectHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let received: Locked<[UInt8]>
    init(into received: Locked<[UInt8]>) { self.received = received }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Array(unwrapInboundIn(data).readableBytesView)
        received.withLock { $0.append(contentsOf: bytes) }
    }
}

@Suite struct HTTPResponseParserTests {
    /// Every whole response in `text`, read the way the channel reads them: as bytes arrive.
    private func responses(_ text: String, atEOF: Bool = false) throws -> [ParsedHTTPResponse] {
        var buffer = ByteBuffer(string: text)
        var parsed: [ParsedHTTPResponse] = []
        try drain(&buffer, atEOF: atEOF, into: &parsed)
        return parsed
    }

    /// Parses whole responses off `buffer` until it is empty or holds only part of one.
    private func drain(_ buffer: inout ByteBuffer, atEOF: Bool = false, into parsed: inout [ParsedHTTPResponse]) throws {
        while buffer.readableBytes > 0 {
            switch try HTTPResponseParser.parse(&buffer, atEOF: atEOF) {
            case .needMoreData: return
            case .interim: continue
            case .response(let response): parsed.append(response)
            }
        }
    }

    private func response(_ status: Int, _ body: String) -> ParsedHTTPResponse {
        ParsedHTTPResponse(status: status, body: ByteBuffer(string: body))
    }

    private let created = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 23\r\nDate: x\r\n\r\n"
        + #"{"paymentOrderId":"ab"}"#
    private let conflict = "HTTP/1.1 409 Conflict\r\ncontent-length: 2\r\n\r\n{}"

    @Test func pipelinedResponsesAreReadInOrder() throws {
        #expect(try responses(created + conflict) == [response(201, #"{"paymentOrderId":"ab"}"#), response(409, "{}")])
    }

    @Test func aResponseSplitAnywhereIsReadOnceWhole() throws {
        let bytes = Array((created + conflict).utf8)
        for split in 0...bytes.count {
            var buffer = ByteBuffer(bytes: bytes[..<split])
            var parsed: [ParsedHTTPResponse] = []
            try drain(&buffer, into: &parsed)
            buffer.writeBytes(bytes[split...])
            try drain(&buffer, into: &parsed)
            #expect(parsed.map(\.status) == [201, 409], "split at \(split)")
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func chunkedBodiesInterimResponsesAndBodilessStatuses() throws {
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: t\r\n\r\n"
        #expect(try responses(chunked) == [response(200, "Wikipedia")])
        #expect(try responses("HTTP/1.1 100 Continue\r\n\r\n" + conflict) == [response(409, "{}")])
        #expect(try responses("HTTP/1.1 204 No Content\r\n\r\n" + conflict) == [response(204, ""), response(409, "{}")])
        // Neither length nor chunked: the body runs to the end of the connection.
        #expect(try responses("HTTP/1.1 503 Service Unavailable\r\n\r\nbusy") == [])
        #expect(try responses("HTTP/1.1 503 Service Unavailable\r\n\r\nbusy", atEOF: true) == [response(503, "busy")])
        // An incomplete body waits; nothing is consumed.
        var partial = ByteBuffer(string: String(created.dropLast(3)))
        #expect(try HTTPResponseParser.parse(&partial, atEOF: false) == .needMoreData)
        #expect(partial.readableBytes == created.utf8.count - 3)
    }

    @Test func malformedResponsesAreErrorsNamingTheProblem() throws {
        let cases: [(String, String)] = [
            ("HTTP/2 200 OK\r\n\r\n", "invalid status line"),
            ("HTTP/1.1 2x1 OK\r\n\r\n", "invalid status line"),
            ("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", "invalid Content-Length"),
            ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "conflicting Content-Length"),
            ("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "invalid header line"),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported Transfer-Encoding"),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size"),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", "not followed by CRLF"),
            ("HTTP/1.1 101 Switching Protocols\r\n\r\n", "101"),
            ("HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: HTTPResponseParser.maximumHeaderBytes), "no end of the header section"),
        ]
        for (text, expected) in cases {
            var buffer = ByteBuffer(string: text)
            do {
                _ = try HTTPResponseParser.parse(&buffer, atEOF: false)
                Issue.record("no error for \(text.prefix(60).debugDescription)")
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
    }

    @Test func anOrderRequestIsOneWholeHTTPRequest() {
        var buffer = ByteBuffer()
        OrderPipelineHandler.writeRequest(index: 7, token: "tok_visa", key: "run-7", host: "127.0.0.1", into: &buffer)
        let body = String(decoding: OrderDriver.requestBody(index: 7, token: "tok_visa"), as: UTF8.self)
        #expect(String(buffer: buffer) == "POST /v1/payment-orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Idempotency-Key: run-7\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
        var authorized = ByteBuffer()
        OrderPipelineHandler.writeRequest(index: 7, token: "tok_visa", key: "run-7", host: "127.0.0.1", authorization: "Bearer pk_x",
                                          into: &authorized)
        #expect(String(buffer: authorized).hasPrefix("POST /v1/payment-orders HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer pk_x\r\nContent-Type"))
    }
}

@Suite struct ClusterSecurityTests {
    private let sasl = ClusterSecurity(listener: .saslSSL, certificates: .init(directory: "/w/certs"), caFile: "/w/certs/ca.pem",
                                       passwordFiles: ["executor": "/w/credentials/executor.password",
                                                       "loadtest": "/w/credentials/loadtest.password"])

    @Test func withoutSaslTheClientsAreAnonymousAsBefore() {
        #expect(ClusterSecurity.plaintext.serviceArguments == ["--executor-principal", "User:ANONYMOUS", "--super-users", "User:ANONYMOUS"])
        #expect(ClusterSecurity.plaintext.executorArguments.isEmpty)
    }

    @Test func withSaslNobodyIsAnonymousAndTheExecutorLogsInAsTheExecutorPrincipal() {
        let service = sasl.serviceArguments
        #expect(!service.joined(separator: " ").contains("ANONYMOUS"))
        #expect(service.joined(separator: " ").contains("--executor-principal User:executor --super-users User:loadtest"))
        #expect(service.joined(separator: " ").contains("--kafka-security-protocol SASL_SSL --http-tls --tls-cert-file /w/certs/server.pem"))
        #expect(sasl.executorArguments == ["--kafka-security-protocol", "SASL_SSL", "--tls-ca-file", "/w/certs/ca.pem",
                                           "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-username", "executor",
                                           "--sasl-password-file", "/w/credentials/executor.password"])
    }

    @Test func loadtestsOwnConnectionsLogInAsTheUserAsked() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-security-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "s3cret\n".write(toFile: directory + "/executor.password", atomically: true, encoding: .utf8)
        let plain = ClusterSecurity(listener: .saslPlaintext, certificates: nil, caFile: nil,
                                    passwordFiles: ["executor": directory + "/executor.password"])
        let connection = try plain.connection(as: "executor", tls: nil)
        #expect(connection.securityProtocol == .saslPlaintext && connection.transportSecurity == nil)
        #expect(connection.sasl?.username == "executor" && connection.sasl?.password == Array("s3cret".utf8))
        #expect(connection.sasl?.mechanism == .scramSHA512)
        #expect(throws: NodeProcessError.self) { try plain.connection(as: "loadtest", tls: nil) }
        #expect(try ClusterSecurity.plaintext.connection(as: "loadtest", tls: nil).sasl == nil)
    }

    @Test func theListenerComesFromClusterSecurityAndTLS() throws {
        #expect(try LoadtestCommand.parse([]).clusterListener() == .plaintext)
        #expect(try LoadtestCommand.parse(["--tls"]).clusterListener() == .ssl)
        #expect(try LoadtestCommand.parse(["--cluster-security", "SASL_SSL"]).clusterListener() == .saslSSL)
        #expect(try LoadtestCommand.parse(["--cluster-security", "sasl_ssl", "--tls"]).clusterListener() == .saslSSL)
        #expect(try LoadtestCommand.parse(["--cluster-security", "sasl_plaintext"]).clusterListener() == .saslPlaintext)
        for refused in [["--cluster-security", "sasl_plaintext", "--tls"], ["--cluster-security", "plaintext", "--tls-ca-file", "ca.pem"],
                        ["--cluster-security", "kerberos"], ["--cluster-security", "sasl_ssl", "--sasl-username", "someone"],
                        ["--cluster-security", "ssl", "--target-http", "127.0.0.1:8080", "--target-kafka", "127.0.0.1:9092"]] {
            #expect(throws: (any Error).self, "\(refused)") { _ = try LoadtestCommand.parse(refused) }
        }
    }
}
