/// Kafka's idempotent-producer bookkeeping for one (producer id, partition): the epoch and the
/// last five batches' sequence ranges with the offsets they got. Pure: `check` decides, the
/// store persists the result in the same transaction as the append.
struct ProducerPartitionState: Equatable, Sendable {
    /// Kafka keeps five; the producer never has more than five requests in flight.
    static let retainedBatches = 5
    static let storedVersion: UInt8 = 1

    struct BatchEntry: Equatable, Sendable {
        var firstSequence: Int32
        var lastSequence: Int32
        var baseOffset: Int64
        var lastOffsetDelta: Int32
        var appendTimeMilliseconds: Int64
    }

    var epoch: Int16
    var batches: [BatchEntry]

    enum Decision: Equatable {
        case append
        case duplicate(BatchEntry)
        case outOfOrderSequence(expected: Int32, received: Int32)
        case invalidEpoch(current: Int16, received: Int16)
    }

    /// Kafka's `ProducerAppendInfo.checkSequence` plus the duplicate check before it.
    static func check(_ state: ProducerPartitionState?, epoch: Int16, firstSequence: Int32, lastSequence: Int32) -> Decision {
        guard let state else {
            // No state (a new producer on this partition): any sequence starts it. Kafka accepts
            // this too since KIP-360, so a producer whose state expired is not wedged.
            return .append
        }
        if epoch < state.epoch {
            return .invalidEpoch(current: state.epoch, received: epoch)
        }
        if epoch > state.epoch {
            // A bumped epoch restarts the sequence at 0 (librdkafka bumps locally after errors).
            return firstSequence == 0 ? .append : .outOfOrderSequence(expected: 0, received: firstSequence)
        }
        if let duplicate = state.batches.first(where: { $0.firstSequence == firstSequence && $0.lastSequence == lastSequence }) {
            return .duplicate(duplicate)
        }
        guard let last = state.batches.last else { return .append }
        let expected = last.lastSequence == Int32.max ? 0 : last.lastSequence + 1
        return firstSequence == expected ? .append : .outOfOrderSequence(expected: expected, received: firstSequence)
    }

    /// The state after appending a batch that `check` accepted.
    static func applying(_ state: ProducerPartitionState?, epoch: Int16, entry: BatchEntry) -> ProducerPartitionState {
        var next = state ?? ProducerPartitionState(epoch: epoch, batches: [])
        if epoch != next.epoch {
            next = ProducerPartitionState(epoch: epoch, batches: [])
        }
        // The window stays in offset order: a producer's batches are appended one after another.
        assert(next.batches.last.map { entry.baseOffset > $0.baseOffset + Int64($0.lastOffsetDelta) } ?? true,
               "a producer's batch was appended at or before its previous batch's offsets")
        next.batches.append(entry)
        if next.batches.count > retainedBatches {
            next.batches.removeFirst(next.batches.count - retainedBatches)
        }
        return next
    }

    func encoded() -> [UInt8] {
        var writer = StoredRecordWriter(capacity: 4 + batches.count * 28)
        writer.write(Self.storedVersion)
        writer.write(epoch)
        writer.write(UInt8(batches.count))
        for batch in batches {
            writer.write(batch.firstSequence)
            writer.write(batch.lastSequence)
            writer.write(batch.baseOffset)
            writer.write(batch.lastOffsetDelta)
            writer.write(batch.appendTimeMilliseconds)
        }
        return writer.bytes
    }

    init(epoch: Int16, batches: [BatchEntry]) {
        self.epoch = epoch
        self.batches = batches
    }

    init(decoding bytes: UnsafeRawBufferPointer) throws(StoredRecordCorrupt) {
        var reader = StoredRecordReader(bytes)
        guard try reader.read(UInt8.self) >= 1 else { throw StoredRecordCorrupt() }
        epoch = try reader.read()
        let count = Int(try reader.read(UInt8.self))
        guard count <= Self.retainedBatches else { throw StoredRecordCorrupt() }
        batches = []
        for _ in 0..<count {
            let entry = BatchEntry(firstSequence: try reader.read(), lastSequence: try reader.read(),
                                   baseOffset: try reader.read(), lastOffsetDelta: try reader.read(),
                                   appendTimeMilliseconds: try reader.read())
            // What `check` relies on: sequences and offsets as an accepted batch has them, and the
            // window in offset order. Anything else came from a damaged store.
            guard entry.firstSequence >= 0, entry.lastSequence >= 0, entry.baseOffset >= 0, entry.lastOffsetDelta >= 0,
                  batches.last.map({ entry.baseOffset > $0.baseOffset + Int64($0.lastOffsetDelta) }) ?? true else {
                throw StoredRecordCorrupt()
            }
            batches.append(entry)
        }
    }
}
