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
    /// The index of the record within its batch that is malformed, when one record is to blame
    /// (a ProduceResponse names it in `recordErrors`).
    public var recordIndex: Int?

    public init(_ code: Code, _ message: String, recordIndex: Int? = nil) {
        self.code = code
        self.message = message
        self.recordIndex = recordIndex
    }

    public var description: String { "RecordBatchError.\(code): \(message)" }
}
