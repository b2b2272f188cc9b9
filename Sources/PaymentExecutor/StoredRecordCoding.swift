import Foundation
import NIOCore
import Payments

/// Binary layouts for what the executor stores per order and per outbox batch, on NIO's
/// ByteBuffer like every other codec in the project. Foundation's JSON coders were more than
/// half of the executor's CPU in the full flow (the journal is written at every stage, the
/// outbox entry is written, sealed, read back and acknowledged, and JSON spelled each result's
/// protobuf bytes in base64). A record starts with a format byte, so a later layout can be told
/// apart; this one is the only one any release wrote: big-endian integers, a flag byte for
/// booleans and optionals, u32-length-prefixed bytes and UTF-8 strings.
enum StoredRecordFormat {
    static let binaryVersion1: UInt8 = 0xB1

    struct DecodingError: Error, CustomStringConvertible {
        var description: String
    }

    /// Reads the layout after its format byte; anything else (another format byte, a truncated
    /// record, trailing bytes) is refused, never guessed at.
    static func decode<T>(_ type: T.Type, from bytes: some Collection<UInt8>, binary: (inout ByteBuffer) throws -> T) throws -> T {
        var buffer = ByteBuffer(bytes: bytes)
        guard let first = buffer.readInteger(as: UInt8.self) else { throw DecodingError(description: "empty \(T.self) record") }
        guard first == binaryVersion1 else { throw DecodingError(description: "unknown \(T.self) record format \(first)") }
        let value = try binary(&buffer)
        guard buffer.readableBytes == 0 else {
            throw DecodingError(description: "\(buffer.readableBytes) trailing bytes after a \(T.self) record")
        }
        return value
    }

    /// A buffer that starts with the format byte.
    static func buffer(capacity: Int = 256) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(capacity)
        buffer.writeInteger(binaryVersion1)
        return buffer
    }
}

extension ByteBuffer {
    mutating func writeStoredBool(_ value: Bool) { writeInteger(UInt8(value ? 1 : 0)) }

    mutating func writeStoredData(_ value: some Collection<UInt8>) {
        writeInteger(UInt32(truncatingIfNeeded: value.count))
        writeBytes(value)
    }

    mutating func writeStoredString(_ value: String) {
        writeInteger(UInt32(truncatingIfNeeded: value.utf8.count))
        writeString(value)
    }

    mutating func writeStoredOptionalString(_ value: String?) {
        writeStoredBool(value != nil)
        if let value { writeStoredString(value) }
    }

    mutating func writeStoredOptionalData(_ value: (some Collection<UInt8>)?) {
        writeStoredBool(value != nil)
        if let value { writeStoredData(value) }
    }

    mutating func writeStoredOptionalInteger<T: FixedWidthInteger>(_ value: T?) {
        writeStoredBool(value != nil)
        if let value { writeInteger(value) }
    }

    private func truncated(_ wanted: Int) -> StoredRecordFormat.DecodingError {
        StoredRecordFormat.DecodingError(description: "record truncated: \(wanted) bytes wanted at \(readerIndex), \(readableBytes) left")
    }

    mutating func readStoredInteger<T: FixedWidthInteger>(_: T.Type = T.self) throws -> T {
        guard let value = readInteger(as: T.self) else { throw truncated(MemoryLayout<T>.size) }
        return value
    }

    mutating func readStoredBool() throws -> Bool {
        switch try readStoredInteger(UInt8.self) {
        case 0: return false
        case 1: return true
        default: throw StoredRecordFormat.DecodingError(description: "invalid flag at \(readerIndex - 1)")
        }
    }

    /// The length is checked against what is left before anything is allocated.
    mutating func readStoredData() throws -> [UInt8] {
        let length = Int(try readStoredInteger(UInt32.self))
        guard let bytes = readBytes(length: length) else { throw truncated(length) }
        return bytes
    }

    mutating func readStoredString() throws -> String {
        let raw = try readStoredData()
        guard let value = String(validating: raw, as: UTF8.self) else {
            throw StoredRecordFormat.DecodingError(description: "invalid UTF-8 in a stored string")
        }
        return value
    }

    mutating func readStoredOptionalString() throws -> String? { try readStoredBool() ? try readStoredString() : nil }
    mutating func readStoredOptionalData() throws -> [UInt8]? { try readStoredBool() ? try readStoredData() : nil }
    mutating func readStoredOptionalInteger<T: FixedWidthInteger>(_: T.Type = T.self) throws -> T? {
        try readStoredBool() ? try readStoredInteger(T.self) : nil
    }

    /// The buffer's bytes, for a table value.
    var storedBytes: [UInt8] { getBytes(at: readerIndex, length: readableBytes) ?? [] }
}

extension PaymentExecutor.Attempt {
    /// The optional section after the fields every attempt has: a refund's id and payment reference.
    static let refundSection: UInt8 = 0x52

    func encoded() -> [UInt8] {
        var writer = StoredRecordFormat.buffer()
        writer.writeStoredString(order.paymentOrderId)
        writer.writeInteger(order.amount)
        writer.writeStoredString(order.currency)
        writer.writeStoredString(order.paymentMethod)
        writer.writeStoredString(order.psp)
        writer.writeStoredString(stage.rawValue)
        writer.writeInteger(Int64(calls))
        writer.writeInteger(UInt32(results.count))
        for result in results {
            writer.writeStoredString(result.status.rawValue)
            writer.writeStoredOptionalString(result.pspReference)
            writer.writeStoredOptionalString(result.errorCode)
            writer.writeStoredOptionalString(result.errorMessage)
            writer.writeInteger(result.eventTime)
            writer.writeStoredOptionalInteger(result.retryAfterMilliseconds)
        }
        writer.writeInteger(Int64(published))
        writer.writeStoredOptionalString(lastError)
        writer.writeStoredOptionalString(traceparent)
        writer.writeStoredOptionalString(pspReference)
        writer.writeStoredOptionalInteger(pendingSince)
        writer.writeInteger(Int64(followUps))
        // Only refunds carry the section, so a payment's record is as every release wrote it.
        if let refund = order.refund {
            writer.writeInteger(Self.refundSection)
            writer.writeStoredString(refund.refundId)
            writer.writeStoredOptionalString(refund.paymentPspReference)
        }
        return writer.storedBytes
    }

    static func decode(_ bytes: some Collection<UInt8>) throws -> Self {
        try StoredRecordFormat.decode(Self.self, from: bytes) { reader in
            let order = PaymentExecutor.OrderToPay(paymentOrderId: try reader.readStoredString(), amount: try reader.readStoredInteger(),
                                                   currency: try reader.readStoredString(), paymentMethod: try reader.readStoredString(),
                                                   psp: try reader.readStoredString())
            let stageName = try reader.readStoredString()
            guard let stage = Stage(rawValue: stageName) else {
                throw StoredRecordFormat.DecodingError(description: "unknown attempt stage \(stageName)")
            }
            var attempt = Self(order: order, stage: stage)
            attempt.calls = Int(try reader.readStoredInteger(Int64.self))
            let count = try reader.readStoredInteger(UInt32.self)
            for _ in 0..<count {
                let statusName = try reader.readStoredString()
                guard let status = PspStatus(rawValue: statusName) else {
                    throw StoredRecordFormat.DecodingError(description: "unknown PSP status \(statusName)")
                }
                attempt.results.append(PaymentExecutor.StoredResult(
                    status: status, pspReference: try reader.readStoredOptionalString(), errorCode: try reader.readStoredOptionalString(),
                    errorMessage: try reader.readStoredOptionalString(), eventTime: try reader.readStoredInteger(),
                    retryAfterMilliseconds: try reader.readStoredOptionalInteger()))
            }
            attempt.published = Int(try reader.readStoredInteger(Int64.self))
            attempt.lastError = try reader.readStoredOptionalString()
            attempt.traceparent = try reader.readStoredOptionalString()
            attempt.pspReference = try reader.readStoredOptionalString()
            attempt.pendingSince = try reader.readStoredOptionalInteger()
            let followUps = try reader.readStoredInteger(Int64.self)
            guard (0...1_000_000).contains(followUps) else {
                throw StoredRecordFormat.DecodingError(description: "attempt follow-up count \(followUps) is out of range")
            }
            attempt.followUps = Int(followUps)
            if reader.readableBytes > 0 {
                let section = try reader.readStoredInteger(UInt8.self)
                guard section == Self.refundSection else {
                    throw StoredRecordFormat.DecodingError(description: "unknown attempt section \(section)")
                }
                attempt.order.refund = PaymentExecutor.RefundToPay(refundId: try reader.readStoredString(),
                                                                   paymentPspReference: try reader.readStoredOptionalString())
            }
            return attempt
        }
    }
}

extension OutboxEntry {
    func encoded() -> [UInt8] {
        var writer = StoredRecordFormat.buffer(capacity: 64 + estimatedBytes)
        writer.writeInteger(producerId)
        writer.writeInteger(producerEpoch)
        writer.writeInteger(baseSequence)
        writer.writeStoredBool(sealed)
        writer.writeInteger(UInt32(records.count))
        for record in records {
            writer.writeStoredString(record.attemptKey)
            writer.writeInteger(Int64(record.resultIndex))
            writer.writeInteger(record.timestamp)
            writer.writeStoredData(record.value)
            writer.writeInteger(UInt32(record.headers.count))
            for header in record.headers {
                writer.writeStoredString(header.key)
                writer.writeStoredOptionalData(header.value)
            }
        }
        return writer.storedBytes
    }

    static func decode(_ bytes: some Collection<UInt8>) throws -> Self {
        try StoredRecordFormat.decode(Self.self, from: bytes) { reader in
            var entry = Self(producerId: try reader.readStoredInteger(), producerEpoch: try reader.readStoredInteger(), baseSequence: try reader.readStoredInteger(),
                             sealed: try reader.readStoredBool(), records: [])
            let count = try reader.readStoredInteger(UInt32.self)
            for _ in 0..<count {
                var record = OutboxRecord(attemptKey: try reader.readStoredString(), resultIndex: Int(try reader.readStoredInteger(Int64.self)),
                                          timestamp: try reader.readStoredInteger(), value: Data(try reader.readStoredData()), headers: [])
                let headers = try reader.readStoredInteger(UInt32.self)
                for _ in 0..<headers {
                    record.headers.append(OutboxRecord.Header(key: try reader.readStoredString(), value: try reader.readStoredOptionalData().map { Data($0) }))
                }
                entry.records.append(record)
            }
            return entry
        }
    }
}

extension OutboxProducerState {
    func encoded() -> [UInt8] {
        var writer = StoredRecordFormat.buffer()
        writer.writeInteger(producerId)
        writer.writeInteger(producerEpoch)
        writer.writeInteger(nextSerial)
        writer.writeInteger(UInt32(nextSequences.count))
        for (partition, sequence) in nextSequences.sorted(by: { $0.key < $1.key }) {
            writer.writeInteger(partition)
            writer.writeInteger(sequence)
        }
        return writer.storedBytes
    }

    static func decode(_ bytes: some Collection<UInt8>) throws -> Self {
        try StoredRecordFormat.decode(Self.self, from: bytes) { reader in
            var state = Self(producerId: try reader.readStoredInteger(), producerEpoch: try reader.readStoredInteger())
            state.nextSerial = try reader.readStoredInteger()
            let count = try reader.readStoredInteger(UInt32.self)
            for _ in 0..<count {
                let partition: Int32 = try reader.readStoredInteger()
                state.nextSequences[partition] = try reader.readStoredInteger(Int32.self)
            }
            return state
        }
    }
}
