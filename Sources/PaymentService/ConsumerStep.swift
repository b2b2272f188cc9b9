import LogStore
import NIOCore
import Protocol

/// What one consumer step takes from a partition's stored batches: each batch decoded once, its
/// records from `start` on, or the whole batch as one undecodable item. Pure (the decoder is
/// passed in, so tests can count how often a batch is decoded).
enum ConsumerStep {
    enum Item: Sendable {
        /// `producerId`: the batch header's, which the broker ties to the principal it was
        /// issued to (`ProducerOwners`); -1 when the producer was not idempotent.
        case record(Record, producerId: Int64)
        /// A batch no record of which can be trusted, covering `firstOffset..<batch.endOffset`.
        case undecodable(bytes: [UInt8], firstOffset: Int64, endOffset: Int64, reason: String)
    }

    /// Whole batches until `maxRecords` items are collected (the last batch is never cut: the
    /// next step would decode, and inflate, it again). Batches wholly before `start` are
    /// skipped. A batch is undecodable when `decode` says so, when it yields no record (a
    /// control batch: no transactional producer writes these topics), or when its records do
    /// not cover exactly the offsets the store holds it at (a flipped byte in the baseOffset,
    /// which the CRC does not cover, would otherwise move records onto other offsets).
    static func collect(_ batches: [StoredBatch], from start: Int64, maxRecords: Int,
                        decode: (ByteBuffer) -> Result<[Record], ConsumedBatch.Undecodable>) -> [Item] {
        var items: [Item] = []
        for stored in batches where stored.endOffset > start && stored.endOffset > stored.baseOffset {
            guard items.count < maxRecords else { break }
            func undecodable(_ reason: String) {
                let bytes = stored.bytes.getBytes(at: stored.bytes.readerIndex, length: stored.bytes.readableBytes) ?? []
                items.append(.undecodable(bytes: bytes, firstOffset: max(start, stored.baseOffset), endOffset: stored.endOffset,
                                          reason: reason))
            }
            switch decode(stored.bytes) {
            case .failure(let why):
                undecodable(why.message)
            case .success(let records):
                guard let first = records.first, let last = records.last else {
                    undecodable("control batch at offset \(stored.baseOffset): this consumer reads no transaction markers")
                    continue
                }
                guard first.offset == stored.baseOffset, last.offset == stored.endOffset - 1 else {
                    undecodable("records cover offsets \(first.offset)...\(last.offset), the store holds the batch at \(stored.baseOffset)..<\(stored.endOffset)")
                    continue
                }
                let producerId = RecordBatch.headerFields(stored.bytes)?.producerId ?? -1
                for record in records where record.offset >= start {
                    items.append(.record(record, producerId: producerId))
                }
            }
        }
        return items
    }
}
