import KafkaClient
import LogStore
import NIOCore
import Payments
import Protocol
import Testing
@testable import PaymentExecutor

@Suite("Executor poison isolation: the pure parts")
struct ExecutorPoisonTests {
    static func records(_ count: Int) -> [Record] {
        (0..<count).map { Record(timestamp: 1_700_000_000_000, key: Array("k\($0)".utf8), value: [UInt8($0)]) }
    }

    static func reseal(_ batch: ByteBuffer) -> ByteBuffer {
        var copy = batch
        let crc = copy.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[21...])) }
        copy.setInteger(crc, at: copy.readerIndex + 17)
        return copy
    }

    static func concatenated(_ batches: [ByteBuffer]) -> ByteBuffer {
        var all = ByteBuffer()
        for var batch in batches { all.writeBuffer(&batch) }
        return all
    }

    @Test func aFetchedPartitionAnswersTheRecordsBeforeAPoisonBatchAndThePoisonsRange() throws {
        let good = try RecordBatch.encode(records: Self.records(3), baseOffset: 10)
        var snappy = try RecordBatch.encode(records: Self.records(2), baseOffset: 13)
        snappy.setInteger(Int16(2), at: 21)
        snappy = Self.reseal(snappy)
        let after = try RecordBatch.encode(records: Self.records(2), baseOffset: 15)
        let decoded = KafkaClient.decodePartition(Self.concatenated([good, snappy, after]), from: 11, highWatermark: 17)
        #expect(decoded.records.map(\.offset) == [11, 12])
        let poison = try #require(decoded.undecodable)
        #expect(poison.firstOffset == 13 && poison.lastOffset == 14)
        #expect(poison.reason.contains("snappy"))
        #expect(poison.bytes.readableBytes == snappy.readableBytes)
        let result = KafkaFetchResult(topicPartition: .init("t", 0), records: decoded.records, highWatermark: 17, logStartOffset: 0,
                                      undecodable: poison)
        #expect(result.nextOffset(after: 11) == 15)
    }

    @Test func aPoisonHeaderNeverMovesThePositionPastTheHighWatermarkNorSkipsAnOffset() throws {
        // Garbage records under a valid CRC, whose header claims offsets far past the log end.
        var lying = try RecordBatch.encode(records: Self.records(3), baseOffset: 4)
        lying.setInteger(Int32(1000), at: 23)  // lastOffsetDelta
        lying = Self.reseal(lying)
        let decoded = KafkaClient.decodePartition(lying, from: 4, highWatermark: 7)
        let poison = try #require(decoded.undecodable)
        #expect(decoded.records.isEmpty)
        #expect(poison.firstOffset == 4 && poison.lastOffset == 4)
        // Framing that cannot be followed: one offset at a time, from where the consumer is.
        var broken = try RecordBatch.encode(records: Self.records(1), baseOffset: 4)
        broken.setInteger(Int32(3), at: 8)  // batchLength below the minimum
        #expect(KafkaClient.decodePartition(broken, from: 4, highWatermark: 7).undecodable?.lastOffset == 4)
        // A first batch longer than what was sent (brokers always send the first one whole).
        var long = try RecordBatch.encode(records: Self.records(1), baseOffset: 4)
        long.setInteger(Int32(1 << 30), at: 8)
        #expect(KafkaClient.decodePartition(long, from: 4, highWatermark: 7).undecodable?.firstOffset == 4)
    }

    @Test func aTruncatedLastBatchAndControlBatchesAreNotPoison() throws {
        let good = try RecordBatch.encode(records: Self.records(2), baseOffset: 0)
        let tail = try RecordBatch.encode(records: Self.records(2), baseOffset: 2)
        var all = Self.concatenated([good, tail])
        all.moveWriterIndex(to: all.writerIndex - 5)
        let decoded = KafkaClient.decodePartition(all, from: 0, highWatermark: 4)
        #expect(decoded.records.map(\.offset) == [0, 1] && decoded.undecodable == nil)
    }

    @Test func deadLettersOfTheExecutorSayWhereFromAndAreChunked() throws {
        let record = Record(offset: 42, timestamp: 5, key: Array("order".utf8), value: [UInt8](repeating: 1, count: 200_000))
        let letter = ExecutorPoison.deadLetter(record, reason: "undecodable", partition: 2, limit: 65_536)
        func header(_ name: String) -> String? {
            letter.headers.first { $0.key == name }?.value.map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(header(DeadLetterHeaders.sourceTopic) == PaymentTopics.paymentOrders)
        #expect(header(DeadLetterHeaders.sourcePartition) == "2" && header(DeadLetterHeaders.sourceOffset) == "42")
        #expect(header(DeadLetterHeaders.valueLength) == "200000" && letter.value?.count == 65_536)
        #expect(ExecutorPoison.deadLetterPartition(source: 5, partitions: 3) == 2)
        #expect(ExecutorPoison.deadLetterPartition(source: 1, partitions: 3) == 1)
        let chunks = ExecutorPoison.chunks(Array(repeating: letter, count: 100), maximumBytes: 1 << 20)
        #expect(chunks.map(\.count).reduce(0, +) == 100)
        #expect(chunks.count == 7)  // 15 dead letters of ~66 KiB per MiB
    }

    @Test func unreadableJournalEntriesAreSeparatedWithTheirKeys() throws {
        let attempt = PaymentExecutor.Attempt(order: .init(paymentOrderId: "o1", amount: 1, currency: "EUR", paymentMethod: "tok", psp: "stripe"),
                                              stage: .calling)
        let journal = ExecutorPoison.readJournal([(Array("o1".utf8), attempt.encoded()), (Array("o2".utf8), [0xFF, 0x00])])
        #expect(journal.attempts.map(\.order.paymentOrderId) == ["o1"])
        #expect(journal.unreadable.map { String(decoding: $0.key, as: UTF8.self) } == ["o2"])
    }

    @Test func retriesBackOffPerScopeAndResetOnSuccess() {
        var retries = ConsumerRetries(consumer: "test", backoff: KafkaBackoff(initial: .milliseconds(100), maximum: .seconds(1), jitter: 0))
        #expect(retries.failed(.partition(1), reason: "io") == .milliseconds(100))
        #expect(retries.failed(.partition(1), reason: "io") == .milliseconds(200))
        #expect(retries.failed(.partition(2), reason: "io") == .milliseconds(100))
        for _ in 0..<10 { _ = retries.failed(.partition(1), reason: "io") }
        #expect(retries.failed(.partition(1), reason: "io") == .seconds(1))
        #expect(retries.failures(.partition(1)) == 13)
        retries.succeeded(.partition(1))
        #expect(retries.failures(.partition(1)) == 0 && retries.failures(.partition(2)) == 1)
        #expect(ConsumerRetries.reason(LogStoreError(.outOfSpace, "full")) == "out_of_space")
        #expect(ConsumerRetries.reason(LogStoreError(.storageFailure, "EIO")) == "io")
    }
}
