/// The fixed 61-byte header of a Kafka record batch v2 (magic 2).
public struct RecordBatchHeader: Sendable, Hashable {
    public static let size = 61

    public var baseOffset: Int64
    /// Bytes after this field: the whole batch is `batchLength + 12` bytes.
    public var batchLength: Int32
    public var partitionLeaderEpoch: Int32
    public var magic: Int8
    public var crc: UInt32
    public var attributes: Int16
    public var lastOffsetDelta: Int32
    public var baseTimestamp: Int64
    public var maxTimestamp: Int64
    public var producerId: Int64
    public var producerEpoch: Int16
    public var baseSequence: Int32
    public var recordCount: Int32

    public init(
        baseOffset: Int64,
        batchLength: Int32,
        partitionLeaderEpoch: Int32,
        magic: Int8,
        crc: UInt32,
        attributes: Int16,
        lastOffsetDelta: Int32,
        baseTimestamp: Int64,
        maxTimestamp: Int64,
        producerId: Int64,
        producerEpoch: Int16,
        baseSequence: Int32,
        recordCount: Int32
    ) {
        self.baseOffset = baseOffset
        self.batchLength = batchLength
        self.partitionLeaderEpoch = partitionLeaderEpoch
        self.magic = magic
        self.crc = crc
        self.attributes = attributes
        self.lastOffsetDelta = lastOffsetDelta
        self.baseTimestamp = baseTimestamp
        self.maxTimestamp = maxTimestamp
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.baseSequence = baseSequence
        self.recordCount = recordCount
    }

    public var totalSize: Int { Int(batchLength) + 12 }

    /// Wrapping, because a corrupt header can hold any values and reading it must not trap.
    public var lastOffset: Int64 { baseOffset &+ Int64(lastOffsetDelta) }

    /// nil for an unknown codec value (5-7).
    public var compression: CompressionCodec? {
        CompressionCodec(rawValue: attributes & RecordBatchLayout.compressionMask)
    }

    public var timestampType: TimestampType {
        attributes & RecordBatchLayout.logAppendTimeFlag != 0 ? .logAppendTime : .createTime
    }

    public var isTransactional: Bool { attributes & RecordBatchLayout.transactionalFlag != 0 }

    public var isControl: Bool { attributes & RecordBatchLayout.controlFlag != 0 }

    public var hasProducerId: Bool { producerId >= 0 }

    /// Sequence of the last record, wrapping past Int32.max to 0 as Kafka does
    /// (`DefaultRecordBatch.incrementSequence`); -1 when the batch has no sequence.
    public var lastSequence: Int32 {
        guard baseSequence != RecordBatchLayout.noSequence else { return RecordBatchLayout.noSequence }
        let sum = Int64(baseSequence) + Int64(lastOffsetDelta)
        let wrapped = sum > Int64(Int32.max) ? sum - (Int64(Int32.max) + 1) : sum
        return Int32(truncatingIfNeeded: wrapped)
    }
}

/// Byte offsets and flag bits of the v2 batch header (Kafka `DefaultRecordBatch`).
enum RecordBatchLayout {
    static let baseOffsetOffset = 0
    static let batchLengthOffset = 8
    static let partitionLeaderEpochOffset = 12
    static let magicOffset = 16
    static let crcOffset = 17
    static let attributesOffset = 21
    static let lastOffsetDeltaOffset = 23
    static let baseTimestampOffset = 27
    static let maxTimestampOffset = 35
    static let producerIdOffset = 43
    static let producerEpochOffset = 51
    static let baseSequenceOffset = 53
    static let recordCountOffset = 57

    /// batchLength counts from the partitionLeaderEpoch field on.
    static let bytesBeforeBatchLengthEnd = 12
    static let minimumBatchLength = Int32(RecordBatchHeader.size - bytesBeforeBatchLengthEnd)

    static let currentMagic: Int8 = 2
    static let compressionMask: Int16 = 0x07
    static let logAppendTimeFlag: Int16 = 0x08
    static let transactionalFlag: Int16 = 0x10
    static let controlFlag: Int16 = 0x20
    static let noSequence: Int32 = -1
}
