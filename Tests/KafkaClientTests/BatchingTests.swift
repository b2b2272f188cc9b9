import Foundation
@testable import KafkaClient
import Protocol
import Testing

@Suite struct BatchingTests {
    let start = ContinuousClock.now
    let p0 = KafkaTopicPartition("t", 0)
    let p1 = KafkaTopicPartition("t", 1)

    func record(_ value: Int, bytes: Int = 10) -> Record {
        Record(timestamp: 0, key: nil, value: [UInt8](repeating: UInt8(value % 256), count: bytes))
    }

    func accumulator(records: Int = 100, bytes: Int = 1 << 20, linger: Duration = .milliseconds(5)) -> KafkaRecordAccumulator<Int> {
        KafkaRecordAccumulator(limits: .init(maxRecords: records, maxBytes: bytes, linger: linger))
    }

    @Test func recordsLingerUntilTheDeadline() {
        var batches = accumulator()
        batches.append(record(1), token: 1, to: p0, now: start)
        batches.append(record(2), token: 2, to: p0, now: start + .milliseconds(3))
        #expect(batches.drain(now: start + .milliseconds(4), flush: false).isEmpty)
        #expect(batches.nextLingerDeadline() == start + .milliseconds(5))
        let drained = batches.drain(now: start + .milliseconds(5), flush: false)
        #expect(drained.map(\.tokens) == [[1, 2]])
        #expect(drained.first?.partition == p0)
    }

    @Test func aFullBatchGoesAtOnceAndSplitsAtTheRecordLimit() {
        var batches = accumulator(records: 3)
        for token in 0..<7 { batches.append(record(token), token: token, to: p0, now: start) }
        #expect(batches.drain(now: start, flush: false).map(\.tokens) == [[0, 1, 2]])
        // One batch in flight per partition: nothing more until it completes.
        #expect(batches.drain(now: start, flush: false).isEmpty)
        #expect(batches.isBusy(p0))
        batches.complete(p0)
        #expect(batches.drain(now: start, flush: false).map(\.tokens) == [[3, 4, 5]])
        batches.complete(p0)
        // The remaining single record is not full: it lingers, unless flushed.
        #expect(batches.drain(now: start, flush: false).isEmpty)
        #expect(batches.drain(now: start, flush: true).map(\.tokens) == [[6]])
        batches.complete(p0)
        #expect(batches.isIdle)
    }

    @Test func theByteLimitSplitsBatchesButAnOversizedRecordGoesAlone() {
        let size = KafkaRecordAccumulator<Int>.estimatedSize(of: record(0, bytes: 100))
        var batches = accumulator(bytes: RecordBatchHeader.size + 2 * size)
        for token in 0..<3 { batches.append(record(token, bytes: 100), token: token, to: p0, now: start) }
        #expect(batches.drain(now: start, flush: false).map(\.tokens) == [[0, 1]])
        batches.complete(p0)
        #expect(batches.drain(now: start, flush: true).map(\.tokens) == [[2]])
        batches.complete(p0)

        var small = accumulator(bytes: 10)
        small.append(record(9, bytes: 1000), token: 9, to: p0, now: start)
        small.append(record(10, bytes: 1000), token: 10, to: p0, now: start)
        #expect(small.drain(now: start, flush: false).map(\.tokens) == [[9]])
    }

    @Test func partitionsBatchIndependently() {
        var batches = accumulator(linger: .zero)
        batches.append(record(1), token: 1, to: p0, now: start)
        batches.append(record(2), token: 2, to: p1, now: start)
        batches.append(record(3), token: 3, to: p0, now: start)
        let first = batches.drain(now: start, flush: false)
        #expect(first.map(\.partition) == [p0, p1])
        #expect(first.map(\.tokens) == [[1, 3], [2]])
        batches.append(record(4), token: 4, to: p0, now: start)
        batches.complete(p1)
        #expect(batches.drain(now: start, flush: false).isEmpty)  // p0 still busy
        #expect(batches.nextLingerDeadline() == nil)
        batches.complete(p0)
        #expect(batches.drain(now: start, flush: false).map(\.tokens) == [[4]])
        batches.append(record(5), token: 5, to: p1, now: start)
        #expect(batches.removeAllPending() == [5])
    }

    @Test func sequencesWrapLikeKafka() {
        var state = ProducerState(producerId: 7, producerEpoch: 0)
        #expect(state.reserveSequences(10, for: p0) == 0)
        #expect(state.reserveSequences(5, for: p0) == 10)
        #expect(state.nextSequence(for: p0) == 15)
        #expect(state.nextSequence(for: p1) == 0)
        #expect(ProducerState.increment(Int32.max - 1, by: 1) == Int32.max)
        #expect(ProducerState.increment(Int32.max, by: 1) == 0)
        #expect(ProducerState.increment(Int32.max - 2, by: 5) == 2)
    }

    @Test func producerStateRoundTripsThroughJSON() throws {
        let state = ProducerState(producerId: 42, producerEpoch: 3, nextSequences: [p0: 100, p1: 7, .init("u", 2): Int32.max])
        let data = try JSONEncoder().encode(state)
        #expect(try JSONDecoder().decode(ProducerState.self, from: data) == state)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""topic":"t""#))
    }

    @Test func backoffGrowsIsCappedAndJitters() {
        let backoff = KafkaBackoff(initial: .milliseconds(100), maximum: .seconds(1), multiplier: 2, jitter: 0.2)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let first = backoff.delay(attempt: 0, using: &generator)
            #expect(first >= .milliseconds(80) && first <= .milliseconds(120))
            let third = backoff.delay(attempt: 2, using: &generator)
            #expect(third >= .milliseconds(320) && third <= .milliseconds(480))
            #expect(backoff.delay(attempt: 1000, using: &generator) <= .seconds(1))
            #expect(backoff.delay(attempt: 1000, using: &generator) >= .milliseconds(800))
        }
        let exact = KafkaBackoff(initial: .milliseconds(10), maximum: .seconds(1), multiplier: 3, jitter: 0)
        #expect(exact.delay(attempt: 2) == .milliseconds(90))
    }

    @Test func configurationIsValidated() {
        #expect(throws: KafkaClientError.self) { try KafkaProducerConfiguration(acks: .leader).validate() }
        #expect(throws: KafkaClientError.self) { try KafkaProducerConfiguration(compression: .zstd).validate() }
        #expect(throws: Never.self) { try KafkaProducerConfiguration(acks: .leader, idempotent: false).validate() }
    }

    @Test func brokerAddressesParse() {
        #expect(KafkaBrokerAddress.list("127.0.0.1:9092, [::1]:9093") == [.init(host: "127.0.0.1", port: 9092), .init(host: "::1", port: 9093)])
        #expect(KafkaBrokerAddress.list("nohost") == nil)
        #expect(KafkaBrokerAddress.list("") == nil)
        #expect(KafkaBrokerAddress("h:0") == nil)
    }
}
