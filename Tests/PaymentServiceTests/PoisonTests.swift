import Crypto
import Foundation
import LogStore
import NIOCore
import Payments
import Protocol
import Testing
@testable import PaymentService

/// Batches a producer could not write any more (the broker refuses them at produce), but an
/// older release, a flipped byte or a bug could have left in a log. Each keeps a valid CRC-32C
/// (unless it is the CRC that is wrong), so it fails for its own reason.
enum Poison {
    static func records(_ count: Int, size: Int = 8) -> [Record] {
        (0..<count).map { Record(timestamp: 1_700_000_000_000, key: Array("k\($0)".utf8), value: Array(repeating: UInt8($0), count: size)) }
    }

    static func reseal(_ batch: ByteBuffer) -> ByteBuffer {
        var copy = batch
        let crc = copy.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[21...])) }
        copy.setInteger(crc, at: copy.readerIndex + 17)
        return copy
    }

    /// Records whose bytes are garbage (0xFF: a record length of -1), under a valid CRC.
    static func garbageRecords() throws -> ByteBuffer {
        var batch = try RecordBatch.encode(records: records(3))
        for index in RecordBatchHeader.size..<batch.readableBytes { batch.setInteger(UInt8(0xFF), at: batch.readerIndex + index) }
        return reseal(batch)
    }

    /// Record 1's offsetDelta is 0 instead of 1 (equal timestamps keep every varint one byte).
    static func offsetDeltaMismatch() throws -> ByteBuffer {
        var batch = try RecordBatch.encode(records: records(3))
        let first = RecordBatchHeader.size
        let firstLength = Int(batch.getInteger(at: first, as: UInt8.self) ?? 0) / 2  // zig-zag, one byte
        let second = first + 1 + firstLength
        // length, attributes, timestampDelta, offsetDelta
        #expect(batch.getInteger(at: second + 3, as: UInt8.self) == 2)
        batch.setInteger(UInt8(0), at: second + 3)
        return reseal(batch)
    }

    /// The snappy codec in the attributes, which this build does not decode.
    static func snappy() throws -> ByteBuffer {
        var batch = try RecordBatch.encode(records: records(2))
        batch.setInteger(Int16(2), at: 21)
        return reseal(batch)
    }

    static func badChecksum() throws -> ByteBuffer {
        var batch = try RecordBatch.encode(records: records(2))
        batch.setInteger(UInt8(0x42), at: batch.readableBytes - 1)
        return batch
    }
}

@Suite("Poison isolation: the pure parts")
struct PoisonUnitTests {
    @Test func everyKindOfPoisonIsUndecodableWithItsReason() throws {
        func reason(_ batch: ByteBuffer) -> ConsumedBatch.Undecodable? {
            if case .failure(let why) = ConsumedBatch.decode(batch) { return why }
            return nil
        }
        #expect(reason(try Poison.garbageRecords())?.code == .invalidRecord)
        #expect(reason(try Poison.offsetDeltaMismatch())?.message.contains("offset delta 0 does not follow 0") == true)
        #expect(reason(try Poison.snappy())?.code == .unsupportedCompression)
        #expect(reason(try Poison.badChecksum())?.code == .corruptChecksum)
        var lying = try RecordBatch.encode(records: Poison.records(3))
        lying.setInteger(Int32(5), at: 23)  // lastOffsetDelta 5 for 3 records
        #expect(reason(Poison.reseal(lying))?.code == .invalidBatch)
        let honest = try RecordBatch.encode(records: Poison.records(3), baseOffset: 10, compression: .gzip)
        guard case .success(let records) = ConsumedBatch.decode(honest, from: 11) else {
            Issue.record("an honest gzip batch is decodable")
            return
        }
        #expect(records.map(\.offset) == [11, 12])
    }

    @Test func aDeadLetterKeepsSmallValuesWholeAndCutsLargeOnesWithTheirDigest() {
        let source = DeadLetter.Source(topic: "t", partition: 2, firstOffset: 7, lastOffset: 9)
        let small = DeadLetter(key: [1], value: [1, 2, 3], originalHeaders: [.init(key: "h", value: [4])], reason: "bad", source: source)
        #expect(!small.truncated && small.value == [1, 2, 3] && small.key == [1])
        #expect(small.headers.first == .init(key: "h", value: [4]))
        func header(_ letter: DeadLetter, _ name: String) -> String? {
            letter.headers.first { $0.key == name }?.value.map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(header(small, DeadLetterHeaders.sourceOffset) == "7" && header(small, DeadLetterHeaders.sourceLastOffset) == "9")
        #expect(header(small, DeadLetterHeaders.truncated) == nil)

        let huge = [UInt8](repeating: 0x5A, count: 16 << 20)
        let cut = DeadLetter(key: nil, value: huge, originalHeaders: [.init(key: "h", value: [UInt8](repeating: 1, count: 5000))],
                             reason: String(repeating: "r", count: 5000), source: source, limit: 4096)
        #expect(cut.truncated && cut.value?.count == 4096)
        #expect(cut.headers.allSatisfy { $0.key != "h" })
        #expect(header(cut, DeadLetterHeaders.truncated) == "value,headers")
        #expect(header(cut, DeadLetterHeaders.valueLength) == String(16 << 20))
        let digest = SHA256.hash(data: huge).map { String(format: "%02x", $0) }.joined()
        #expect(header(cut, DeadLetterHeaders.valueSha256) == digest)
        #expect(header(cut, DeadLetterHeaders.reason)?.count == 1024)
        #expect(cut.estimatedBytes < 8 << 10)
    }

    @Test func aConsumerStepDecodesEachBatchOnceAndNeverCutsOne() throws {
        let first = try RecordBatch.encode(records: Poison.records(4), baseOffset: 0, compression: .gzip)
        let second = try RecordBatch.encode(records: Poison.records(4), baseOffset: 4, compression: .gzip)
        let third = try RecordBatch.encode(records: Poison.records(4), baseOffset: 8, compression: .gzip)
        let stored = [StoredBatch(baseOffset: 0, endOffset: 4, bytes: first), StoredBatch(baseOffset: 4, endOffset: 8, bytes: second),
                      StoredBatch(baseOffset: 8, endOffset: 12, bytes: third)]
        var decodes = 0
        let items = ConsumerStep.collect(stored, from: 2, maxRecords: 5) { batch in
            decodes += 1
            return ConsumedBatch.decode(batch)
        }
        // Offsets 2..<8: the first batch from the start offset, the second whole although it
        // passes maxRecords, the third not touched. Each batch inflated once.
        #expect(decodes == 2)
        #expect(items.compactMap { if case .record(let r, _) = $0 { r.offset } else { nil } } == Array(Int64(2)..<8))
    }

    @Test func undecodableBatchesCoverTheStoresOffsetsNotTheirOwn() throws {
        var moved = try RecordBatch.encode(records: Poison.records(3), baseOffset: 0)
        RecordBatch.setBaseOffset(100, in: &moved)  // the CRC does not cover the baseOffset
        let stored = [StoredBatch(baseOffset: 5, endOffset: 8, bytes: moved),
                      StoredBatch(baseOffset: 8, endOffset: 10, bytes: try Poison.snappy()),
                      StoredBatch(baseOffset: 10, endOffset: 12, bytes: ByteBuffer(bytes: [1, 2, 3]))]
        let items = ConsumerStep.collect(stored, from: 6, maxRecords: 100) { ConsumedBatch.decode($0) }
        let ranges = items.compactMap { item -> ClosedRange<Int64>? in
            if case .undecodable(_, let first, let end, _) = item { return first...(end - 1) }
            return nil
        }
        #expect(ranges == [6...7, 8...9, 10...11])
    }

    @Test func theStartOffsetStaysInsideThePartition() {
        #expect(PaymentService.startOffset(committed: nil, logStart: 3, highWatermark: 9) == 3)
        #expect(PaymentService.startOffset(committed: 1, logStart: 3, highWatermark: 9) == 3)
        #expect(PaymentService.startOffset(committed: 7, logStart: 3, highWatermark: 9) == 7)
        #expect(PaymentService.startOffset(committed: 50, logStart: 3, highWatermark: 9) == 9)
    }
}

@Suite("Poison isolation: the service's consumer over the embedded log")
struct ServicePoisonTests {
    @Test func poisonBatchesAreDeadLetteredWithTheirRangesInTheOffsetCommit() async throws {
        let fixture = try await PaymentServiceTests.Fixture()
        defer { fixture.close() }
        let (_, order) = try await fixture.create("a")
        let topic = PaymentTopics.pspResultUpdates
        for poison in [try Poison.garbageRecords(), try Poison.offsetDeltaMismatch(), try Poison.snappy(), try Poison.badChecksum()] {
            _ = try await fixture.store.appendUnvalidatedForFaultInjection(topic: topic, partition: 0, batch: poison)
        }
        // A ~16 MiB record (the batch limit allows it) whose event cannot decode.
        let big = Record(timestamp: -1, key: Array("big".utf8), value: [UInt8](repeating: 0x5A, count: 15 << 20))
        _ = try await fixture.store.appendUnvalidatedForFaultInjection(topic: topic, partition: 0,
                                                                       batch: try RecordBatch.encode(records: [big]))
        try await fixture.publish(order, .successful)
        var next: Int64 = 0
        for _ in 0..<10 where next < 12 {
            next = try await fixture.service.processResults(partition: 0).nextOffset
        }
        #expect(next == 12)
        let committed = try fixture.store.committedOffset(group: PaymentTopics.consumerGroup, topic: topic, partition: 0)?.offset
        #expect(committed == 12)
        #expect(try fixture.order(order)["status"] as? String == "SUCCESSFUL")

        let dead = try fixture.records(PaymentTopics.deadLetters)
        func header(_ record: Record, _ name: String) -> String? {
            record.headers.first { $0.key == name }?.value.map { String(decoding: $0, as: UTF8.self) }
        }
        let ranges = dead.map { "\(header($0, DeadLetterHeaders.sourceOffset) ?? "?")-\(header($0, DeadLetterHeaders.sourceLastOffset) ?? "?")" }
        #expect(ranges == ["0-2", "3-5", "6-7", "8-9", "10-10"])
        #expect(header(dead[2], DeadLetterHeaders.reason)?.contains("snappy") == true)
        #expect(header(dead[3], DeadLetterHeaders.reason)?.contains("CRC") == true)
        #expect(header(dead[4], DeadLetterHeaders.truncated) == "value")
        #expect(header(dead[4], DeadLetterHeaders.valueLength) == String(15 << 20))
        #expect(dead[4].value?.count == DeadLetter.defaultLimit)
    }

    /// An order whose stored state is not the one layout (a damaged store, or a development
    /// layout no release wrote) is not guessed at: its result is dead-lettered with the reason,
    /// the offset moves on, and the next order is processed.
    @Test func aResultForAnOrderWithADamagedStateIsDeadLetteredNotRetried() async throws {
        let fixture = try await PaymentServiceTests.Fixture()
        defer { fixture.close() }
        let (_, damaged) = try await fixture.create("damaged")
        let (_, healthy) = try await fixture.create("healthy")
        let key = try #require(PaymentOrderID(damaged)).bytes
        let stored = try #require(try fixture.store.read { try $0.table(PaymentTables.orders)?.get(key) })
        let shortened = Array(stored.prefix(38))
        try await fixture.store.write { try $0.table(PaymentTables.orders).put(key, shortened) }
        try await fixture.publish(damaged, .successful)
        try await fixture.publish(healthy, .successful)
        var next: Int64 = 0
        for partition: Int32 in 0..<3 {
            next += try await fixture.service.processResults(partition: partition).nextOffset
        }
        #expect(next == 2)
        #expect(try fixture.order(healthy)["status"] as? String == "SUCCESSFUL")
        let dead = try fixture.records(PaymentTopics.deadLetters)
        let reasons = dead.compactMap { $0.headers.first { $0.key == DeadLetterHeaders.reason }?.value }.map { String(decoding: $0, as: UTF8.self) }
        #expect(reasons.count == 1 && reasons[0].contains("stored state of order \(damaged)"))
    }
}
