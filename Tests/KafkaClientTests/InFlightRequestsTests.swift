@testable import KafkaClient
import Testing

@Suite struct InFlightRequestsTests {
    @Test func responsesMatchInOrder() {
        var queue = KafkaInFlightRequests<String>()
        queue.append(correlationId: 7, token: "a")
        queue.append(correlationId: 8, token: "b")
        queue.append(correlationId: 9, token: "c")
        guard case .deliver("a") = queue.receive(correlationId: 7) else { Issue.record("7 should answer a"); return }
        guard case .deliver("b") = queue.receive(correlationId: 8) else { Issue.record("8 should answer b"); return }
        #expect(queue.count == 1)
        #expect(queue.contains(correlationId: 9))
        #expect(!queue.contains(correlationId: 7))
    }

    @Test func anOutOfOrderResponseFailsEverything() {
        var queue = KafkaInFlightRequests<String>()
        queue.append(correlationId: 1, token: "a")
        queue.append(correlationId: 2, token: "b")
        guard case .protocolViolation(let expected, let failed) = queue.receive(correlationId: 2) else {
            Issue.record("a response for 2 while 1 waits must be a violation"); return
        }
        #expect(expected == 1)
        #expect(failed == ["a", "b"])
        #expect(queue.isEmpty)
    }

    @Test func anUnsolicitedResponseIsAViolation() {
        var queue = KafkaInFlightRequests<Int>()
        guard case .protocolViolation(nil, []) = queue.receive(correlationId: 5) else {
            Issue.record("nothing was waiting"); return
        }
    }

    @Test func removeAllReturnsOldestFirstAndManyRequestsCompact() {
        var queue = KafkaInFlightRequests<Int32>()
        for id in Int32(0)..<500 { queue.append(correlationId: id, token: id) }
        for id in Int32(0)..<300 {
            guard case .deliver(id) = queue.receive(correlationId: id) else { Issue.record("\(id) out of order"); return }
        }
        #expect(queue.removeAll() == Array(300..<500))
        #expect(queue.isEmpty)
    }
}
