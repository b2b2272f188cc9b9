import Foundation
import Payments

/// Binary layouts for what the executor stores per order and per outbox batch. Foundation's
/// JSON coders were more than half of the executor's CPU in the full flow (the journal is
/// written at every stage, the outbox entry is written, sealed, read back and acknowledged, and
/// JSON spells each result's protobuf bytes in base64). A record starts with a format byte, so
/// a later layout can be told apart; this one is the only one any release wrote.
enum StoredRecordFormat {
    static let binaryVersion1: UInt8 = 0xB1

    struct DecodingError: Error, CustomStringConvertible {
        var description: String
    }

    /// Reads the layout after its format byte; anything else (another format byte, a truncated
    /// record, trailing bytes) is refused, never guessed at.
    static func decode<T>(_ type: T.Type, from bytes: some Collection<UInt8>, binary: (inout ByteReader) throws -> T) throws -> T {
        guard let first = bytes.first else { throw DecodingError(description: "empty \(T.self) record") }
        guard first == binaryVersion1 else { throw DecodingError(description: "unknown \(T.self) record format \(first)") }
        var reader = ByteReader(Array(bytes.dropFirst()))
        let value = try binary(&reader)
        guard reader.isAtEnd else { throw DecodingError(description: "\(reader.remaining) trailing bytes after a \(T.self) record") }
        return value
    }
}

/// Big-endian integers and length-prefixed byte strings.
struct ByteWriter {
    private(set) var bytes: [UInt8] = [StoredRecordFormat.binaryVersion1]

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func integer<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.bigEndian) { bytes += $0 } }
    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }
    mutating func data(_ value: some Collection<UInt8>) {
        integer(UInt32(value.count))
        bytes += value
    }
    mutating func string(_ value: String) { data(value.utf8) }
    mutating func optionalString(_ value: String?) {
        bool(value != nil)
        if let value { string(value) }
    }
    mutating func optionalData(_ value: (some Collection<UInt8>)?) {
        bool(value != nil)
        if let value { data(value) }
    }
    mutating func optionalInteger<T: FixedWidthInteger>(_ value: T?) {
        bool(value != nil)
        if let value { integer(value) }
    }
}

struct ByteReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { position == bytes.count }
    var remaining: Int { bytes.count - position }

    private mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw StoredRecordFormat.DecodingError(description: "record truncated: \(count) bytes wanted at \(position), \(remaining) left")
        }
        defer { position += count }
        return bytes[position..<position + count]
    }

    mutating func integer<T: FixedWidthInteger>(_: T.Type = T.self) throws -> T {
        T(truncatingIfNeeded: try take(MemoryLayout<T>.size).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }
    mutating func bool() throws -> Bool {
        switch try take(1).first {
        case 0: false
        case 1: true
        default: throw StoredRecordFormat.DecodingError(description: "invalid flag at \(position - 1)")
        }
    }
    mutating func data() throws -> [UInt8] { Array(try take(Int(try integer(UInt32.self)))) }
    mutating func string() throws -> String {
        let raw = try data()
        guard let value = String(validating: raw, as: UTF8.self) else {
            throw StoredRecordFormat.DecodingError(description: "invalid UTF-8 in a stored string")
        }
        return value
    }
    mutating func optionalString() throws -> String? { try bool() ? try string() : nil }
    mutating func optionalData() throws -> [UInt8]? { try bool() ? try data() : nil }
    mutating func optionalInteger<T: FixedWidthInteger>(_: T.Type = T.self) throws -> T? { try bool() ? try integer(T.self) : nil }
}

extension PaymentExecutor.Attempt {
    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.string(order.paymentOrderId)
        writer.integer(order.amount)
        writer.string(order.currency)
        writer.string(order.paymentMethod)
        writer.string(order.psp)
        writer.string(stage.rawValue)
        writer.integer(Int64(calls))
        writer.integer(UInt32(results.count))
        for result in results {
            writer.string(result.status.rawValue)
            writer.optionalString(result.pspReference)
            writer.optionalString(result.errorCode)
            writer.optionalString(result.errorMessage)
            writer.integer(result.eventTime)
            writer.optionalInteger(result.retryAfterMilliseconds)
        }
        writer.integer(Int64(published))
        writer.optionalString(lastError)
        writer.optionalString(traceparent)
        return writer.bytes
    }

    static func decode(_ bytes: some Collection<UInt8>) throws -> Self {
        try StoredRecordFormat.decode(Self.self, from: bytes) { reader in
            let order = PaymentExecutor.OrderToPay(paymentOrderId: try reader.string(), amount: try reader.integer(),
                                                   currency: try reader.string(), paymentMethod: try reader.string(),
                                                   psp: try reader.string())
            let stageName = try reader.string()
            guard let stage = Stage(rawValue: stageName) else {
                throw StoredRecordFormat.DecodingError(description: "unknown attempt stage \(stageName)")
            }
            var attempt = Self(order: order, stage: stage)
            attempt.calls = Int(try reader.integer(Int64.self))
            let count = try reader.integer(UInt32.self)
            for _ in 0..<count {
                let statusName = try reader.string()
                guard let status = PspStatus(rawValue: statusName) else {
                    throw StoredRecordFormat.DecodingError(description: "unknown PSP status \(statusName)")
                }
                attempt.results.append(PaymentExecutor.StoredResult(
                    status: status, pspReference: try reader.optionalString(), errorCode: try reader.optionalString(),
                    errorMessage: try reader.optionalString(), eventTime: try reader.integer(),
                    retryAfterMilliseconds: try reader.optionalInteger()))
            }
            attempt.published = Int(try reader.integer(Int64.self))
            attempt.lastError = try reader.optionalString()
            attempt.traceparent = try reader.optionalString()
            return attempt
        }
    }
}

extension OutboxEntry {
    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 64 + estimatedBytes)
        writer.integer(producerId)
        writer.integer(producerEpoch)
        writer.integer(baseSequence)
        writer.bool(sealed)
        writer.integer(UInt32(records.count))
        for record in records {
            writer.string(record.paymentOrderId)
            writer.integer(Int64(record.resultIndex))
            writer.integer(record.timestamp)
            writer.data(record.value)
            writer.integer(UInt32(record.headers.count))
            for header in record.headers {
                writer.string(header.key)
                writer.optionalData(header.value)
            }
        }
        return writer.bytes
    }

    static func decode(_ bytes: some Collection<UInt8>) throws -> Self {
        try StoredRecordFormat.decode(Self.self, from: bytes) { reader in
            var entry = Self(producerId: try reader.integer(), producerEpoch: try reader.integer(), baseSequence: try reader.integer(),
                             sealed: try reader.bool(), records: [])
            let count = try reader.integer(UInt32.self)
            for _ in 0..<count {
                var record = OutboxRecord(paymentOrderId: try reader.string(), resultIndex: Int(try reader.integer(Int64.self)),
                                          timestamp: try reader.integer(), value: Data(try reader.data()), headers: [])
                let headers = try reader.integer(UInt32.self)
                for _ in 0..<headers {
                    record.headers.append(OutboxRecord.Header(key: try reader.string(), value: try reader.optionalData().map { Data($0) }))
                }
                entry.records.append(record)
            }
            return entry
        }
    }
}

extension OutboxProducerState {
    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.integer(producerId)
        writer.integer(producerEpoch)
        writer.integer(nextSerial)
        writer.integer(UInt32(nextSequences.count))
        for (partition, sequence) in nextSequences.sorted(by: { $0.key < $1.key }) {
            writer.integer(partition)
            writer.integer(sequence)
        }
        return writer.bytes
    }

    static func decode(_ bytes: some Collection<UInt8>) throws -> Self {
        try StoredRecordFormat.decode(Self.self, from: bytes) { reader in
            var state = Self(producerId: try reader.integer(), producerEpoch: try reader.integer())
            state.nextSerial = try reader.integer()
            let count = try reader.integer(UInt32.self)
            for _ in 0..<count {
                let partition: Int32 = try reader.integer()
                state.nextSequences[partition] = try reader.integer(Int32.self)
            }
            return state
        }
    }
}
