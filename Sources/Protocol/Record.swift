/// A record header: a UTF-8 key and an optional opaque value.
public struct RecordHeader: Sendable, Hashable {
    public var key: String
    public var value: [UInt8]?

    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }
}

/// A decoded record with absolute offset and timestamp.
public struct Record: Sendable, Hashable {
    public var offset: Int64
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [RecordHeader]

    public init(offset: Int64 = 0, timestamp: Int64, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader] = []) {
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// The compression codec in bits 0-2 of the batch attributes.
public enum CompressionCodec: Int16, Sendable {
    case none = 0
    case gzip = 1
    case snappy = 2
    case lz4 = 3
    case zstd = 4
}

/// Whether record timestamps were set by the producer or overwritten by the broker.
public enum TimestampType: Sendable {
    case createTime
    case logAppendTime
}
