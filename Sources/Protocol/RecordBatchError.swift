/// Why a record batch (or a piece of one) could not be read, built or trusted.
public struct RecordBatchError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        case truncated
        case unsupportedMagic
        case corruptChecksum
        case invalidLength
        case invalidRecord
        case unsupportedCompression
        case decompressionFailed
        case invalidBatch
    }

    public var code: Code
    /// Human readable: what was wrong and where.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "RecordBatchError.\(code): \(message)" }
}
