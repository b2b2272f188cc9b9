import NIOCore
import PaynodeTestSupport
import Protocol
import Testing

@Suite struct RecordBatchValidationTests {
    private let idempotentBatch: ByteBuffer
    private let gzipBatch: ByteBuffer

    init() throws {
        idempotentBatch = try RecordBatch.encode(records: sampleRecords, producerId: 5, producerEpoch: 0, baseSequence: 0)
        gzipBatch = try RecordBatch.encode(records: sampleRecords, compression: .gzip)
    }

    private func validationError(_ batch: ByteBuffer) -> RecordBatchError.Code? {
        errorCode { () throws(RecordBatchError) in try RecordBatch.validate(batch) }
    }

    private func editing(_ batch: ByteBuffer, _ edit: (inout ByteBuffer) -> Void) -> ByteBuffer {
        var copy = batch
        edit(&copy)
        return copy
    }

    @Test func acceptsAValidBatch() throws {
        #expect(try RecordBatch.validate(idempotentBatch) == RecordBatch.peekHeader(idempotentBatch))
        #expect(validationError(gzipBatch) == nil)
    }

    @Test func everySingleByteChangeInTheCoveredRegionBreaksTheChecksum() {
        #expect(RecordBatch.verifyChecksum(idempotentBatch))
        var generator = SeededGenerator(seed: 7)
        for index in 21..<idempotentBatch.readableBytes {
            for mask in [0x01, UInt8.random(in: 1...255, using: &generator)] {
                let corrupted = editing(idempotentBatch) { $0.setInteger(($0.getInteger(at: index, as: UInt8.self) ?? 0) ^ mask, at: index) }
                #expect(!RecordBatch.verifyChecksum(corrupted), "byte \(index) xor \(mask)")
            }
        }
        let corrupted = editing(idempotentBatch) { $0.setInteger(UInt8(0x5A) ^ ($0.getInteger(at: 40, as: UInt8.self) ?? 0), at: 40) }
        #expect(validationError(corrupted) == .corruptChecksum)
    }

    @Test func uncoveredFieldsDoNotAffectTheChecksum() {
        var edited = idempotentBatch
        RecordBatch.setBaseOffset(Int64.max - 10, partitionLeaderEpoch: 123, in: &edited)
        #expect(RecordBatch.verifyChecksum(edited))
        #expect(edited.getInteger(at: 0, as: Int64.self) == Int64.max - 10)
        #expect(edited.getInteger(at: 12, as: Int32.self) == 123)
        #expect(validationError(edited) == nil)
    }

    @Test func rejectsWrongMagic() {
        for magic: Int8 in [0, 1, 3, -1] {
            let edited = editing(idempotentBatch) { $0.setInteger(magic, at: 16) }
            #expect(validationError(edited) == .unsupportedMagic)
            #expect(errorCode { () throws(RecordBatchError) in try RecordBatch.peekHeader(edited) } == .unsupportedMagic)
        }
    }

    @Test func rejectsLengthsThatDoNotMatchTheBytes() {
        let size = idempotentBatch.readableBytes
        let tooLong = editing(idempotentBatch) { $0.setInteger(Int32(size - 12 + 1), at: 8) }
        let tooShort = editing(idempotentBatch) { $0.setInteger(Int32(size - 12 - 1), at: 8) }
        let belowHeader = editing(idempotentBatch) { $0.setInteger(Int32(10), at: 8) }
        let negative = editing(idempotentBatch) { $0.setInteger(Int32(-1), at: 8) }
        let trailingByte = editing(idempotentBatch) { $0.writeInteger(UInt8(0)) }
        for batch in [tooLong, tooShort, belowHeader, negative, trailingByte] {
            #expect(validationError(batch) == .invalidLength)
        }
        #expect(!RecordBatch.verifyChecksum(tooLong))
        #expect(!RecordBatch.verifyChecksum(negative))
        let headerOnly = idempotentBatch.getSlice(at: 0, length: 60) ?? ByteBuffer()
        #expect(validationError(headerOnly) == .truncated)
        #expect(errorCode { () throws(RecordBatchError) in try RecordBatch.peekHeader(headerOnly) } == .truncated)
    }

    @Test func rejectsLastOffsetDeltaThatDisagreesWithRecordCount() {
        let edited = resealed(editing(idempotentBatch) { $0.setInteger(Int32(2), at: 23) })
        #expect(validationError(edited) == .invalidBatch)
        let overflowing = resealed(editing(idempotentBatch) {
            $0.setInteger(Int32.max, at: 23)
            $0.setInteger(Int32.min, at: 57)
        })
        #expect(validationError(overflowing) == .invalidBatch)
    }

    @Test func rejectsEmptyBatches() {
        let edited = resealed(editing(idempotentBatch) {
            $0.setInteger(Int32(-1), at: 23)
            $0.setInteger(Int32(0), at: 57)
        })
        #expect(validationError(edited) == .invalidBatch)
    }

    @Test func rejectsControlBatches() throws {
        let edited = resealed(editing(idempotentBatch) { $0.setInteger(Int16(0x20), at: 21) })
        #expect(try RecordBatch.peekHeader(edited).isControl)
        #expect(validationError(edited) == .invalidBatch)
    }

    @Test func rejectsProducerIdWithoutSequence() throws {
        let batch = try RecordBatch.encode(records: sampleRecords, producerId: 9, producerEpoch: 0, baseSequence: -1)
        #expect(validationError(batch) == .invalidBatch)
        let withoutProducer = try RecordBatch.encode(records: sampleRecords, producerId: -1, baseSequence: -1)
        #expect(validationError(withoutProducer) == nil)
    }

    @Test func rejectsUnknownCompression() {
        let edited = resealed(editing(idempotentBatch) { $0.setInteger(Int16(6), at: 21) })
        #expect(validationError(edited) == .unsupportedCompression)
    }

    /// Random byte changes, insertions, deletions and truncations of valid batches:
    /// decoding must return or throw, never trap, and a success must honour recordCount.
    @Test(arguments: [false, true])
    func decodeSurvivesRandomMutations(compressed: Bool) {
        let original = (compressed ? gzipBatch : idempotentBatch).allReadableBytes
        var generator = SeededGenerator(seed: compressed ? 0xBADC0DE : 0xFEED)
        var decodedCount = 0
        var rejectedCount = 0
        for _ in 0..<2500 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<5, using: &generator) {
                case 0: bytes[index] ^= UInt8.random(in: 1...255, using: &generator)
                case 1: bytes[index] = [0x00, 0x01, 0x7F, 0x80, 0xFF].randomElement(using: &generator) ?? 0
                case 2: bytes.removeSubrange(index...)
                case 3: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: index)
                default: if bytes.count > 1 { bytes.remove(at: index) }
                }
                if bytes.isEmpty { bytes = [0] }
            }
            let mutated = buffer(bytes)
            do {
                let records = try RecordBatch.decodeRecords(mutated)
                let header = try RecordBatch.peekHeader(mutated)
                #expect(records.count == Int(header.recordCount))
                decodedCount += 1
            } catch {
                rejectedCount += 1
            }
            _ = RecordBatch.verifyChecksum(mutated)
            _ = try? RecordBatch.validate(mutated)
            _ = try? RecordBatch.split(mutated)
        }
        #expect(rejectedCount > 0)
        #expect(decodedCount + rejectedCount == 2500)
        #expect(decodedCount > 0, "some mutations (values, uncovered fields) must still decode")
    }

    @Test func decodeRejectsHandCraftedMalformedRecords() throws {
        // One record whose key length claims more bytes than the record holds.
        func batch(recordCount: Int32, section: [UInt8]) -> ByteBuffer {
            var batch = (try? RecordBatch.encode(records: [Record(timestamp: 0, key: nil, value: nil)])) ?? ByteBuffer()
            batch.moveWriterIndex(to: 61)
            batch.writeBytes(section)
            batch.setInteger(Int32(batch.readableBytes - 12), at: 8)
            batch.setInteger(recordCount, at: 57)
            return resealed(batch)
        }
        let valid: [UInt8] = [0x0C, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00]  // length 6, null key, null value, no headers
        #expect(try RecordBatch.decodeRecords(batch(recordCount: 1, section: valid)).count == 1)
        let cases: [(String, Int32, [UInt8])] = [
            ("key longer than record", 1, [0x0C, 0x00, 0x00, 0x00, 0x7E, 0x01, 0x00]),
            ("key length -2", 1, [0x0C, 0x00, 0x00, 0x00, 0x03, 0x01, 0x00]),
            ("negative record length", 1, [0x01] + valid.dropFirst()),
            ("record length past the end", 1, [0x0E] + valid.dropFirst()),
            ("unread bytes inside record", 1, [0x0E, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00]),
            ("negative header count", 1, [0x0C, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01]),
            ("huge header count", 1, [0x0C, 0x00, 0x00, 0x00, 0x01, 0x01, 0xFE]),
            ("null header key", 1, [0x10, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x01, 0x01]),
            ("recordCount too high", 2, valid),
            ("recordCount negative", -1, valid),
            ("recordCount absurd", Int32.max, valid),
            ("bytes after last record", 1, valid + [0x00]),
            ("overlong varint", 1, [0x0C, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
        ]
        for (name, count, section) in cases {
            let code = errorCode { () throws(RecordBatchError) in try RecordBatch.decodeRecords(batch(recordCount: count, section: section)) }
            #expect(code == .invalidRecord, "\(name)")
        }
    }

    /// A hand-made batch: `section` as its records, with the given counts (resealed, so the CRC holds).
    private func craftedBatch(recordCount: Int32, lastOffsetDelta: Int32, section: [UInt8], compression: Int16 = 0) -> ByteBuffer {
        var batch = (try? RecordBatch.encode(records: [Record(timestamp: 0, key: nil, value: nil)])) ?? ByteBuffer()
        batch.moveWriterIndex(to: 61)
        batch.writeBytes(section)
        batch.setInteger(Int32(batch.readableBytes - 12), at: 8)
        batch.setInteger(compression, at: 21)
        batch.setInteger(lastOffsetDelta, at: 23)
        batch.setInteger(recordCount, at: 57)
        return resealed(batch)
    }

    /// length 6, attributes, timestamp delta 0, the offset delta, null key, null value, no headers.
    private func record(offsetDelta: UInt8) -> [UInt8] { [0x0C, 0x00, 0x00, offsetDelta << 1, 0x01, 0x01, 0x00] }

    @Test func validateDecodesEveryRecordAsTheProducePathMust() {
        let good = craftedBatch(recordCount: 2, lastOffsetDelta: 1, section: record(offsetDelta: 0) + record(offsetDelta: 1))
        #expect(validationError(good) == nil)
        // CRC-valid garbage where the records should be: the header alone looks fine.
        let garbage = craftedBatch(recordCount: 2, lastOffsetDelta: 1, section: [0x7E, 0x13, 0x37, 0xFF, 0x00, 0x42, 0x99, 0x01])
        #expect(validationError(garbage) == .invalidRecord)
        let trailing = craftedBatch(recordCount: 1, lastOffsetDelta: 0, section: record(offsetDelta: 0) + [0x00])
        #expect(validationError(trailing) == .invalidRecord)
    }

    @Test func validateRequiresOffsetDeltasToBeTheRecordIndexes() throws {
        let repeated = craftedBatch(recordCount: 2, lastOffsetDelta: 1, section: record(offsetDelta: 0) + record(offsetDelta: 0))
        do {
            try RecordBatch.validateRecords(repeated)
            Issue.record("a repeated offset delta was accepted")
        } catch {
            #expect(error.code == .invalidRecord)
            #expect(error.recordIndex == 1)
            #expect(error.message.contains("offset delta 0 is not the record's index 1"))
        }
        let skipping = craftedBatch(recordCount: 2, lastOffsetDelta: 1, section: record(offsetDelta: 1) + record(offsetDelta: 2))
        #expect(validationError(skipping) == .invalidRecord)
    }

    @Test func decodeAcceptsTheGapsOfACompactedLogButNothingOutOfOrder() throws {
        // Compaction removed the record at delta 1: Kafka keeps lastOffsetDelta, so consumers must read it.
        let compacted = craftedBatch(recordCount: 2, lastOffsetDelta: 2, section: record(offsetDelta: 0) + record(offsetDelta: 2))
        #expect(try RecordBatch.decodeRecords(compacted).map(\.offset) == [0, 2])
        #expect(validationError(compacted) != nil, "a producer may not send gaps")
        for section in [record(offsetDelta: 1) + record(offsetDelta: 0), record(offsetDelta: 0) + record(offsetDelta: 3)] {
            let batch = craftedBatch(recordCount: 2, lastOffsetDelta: 2, section: section)
            #expect(errorCode { () throws(RecordBatchError) in try RecordBatch.decodeRecords(batch) } == .invalidRecord)
        }
    }

    @Test(arguments: [Int16(2), 3, 4])
    func validateRefusesCodecsTheBrokerCannotDecode(codec: Int16) {
        let batch = craftedBatch(recordCount: 1, lastOffsetDelta: 0, section: record(offsetDelta: 0), compression: codec)
        #expect(validationError(batch) == .unsupportedCompression)
    }

    @Test func errorsSayWhatAndWhere() {
        var batch = idempotentBatch
        batch.setInteger(Int32(-1), at: 57)
        let message: String
        do {
            _ = try RecordBatch.decodeRecords(batch)
            message = ""
        } catch {
            message = error.description
        }
        #expect(message.contains("recordCount"))
        #expect(message.contains("invalidRecord"))
    }
}
