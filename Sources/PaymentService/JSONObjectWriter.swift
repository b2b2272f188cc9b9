/// Writes one flat JSON object by hand, for records written once per PSP result or order:
/// Foundation's JSONEncoder spent more time than everything else in the consumer step together
/// (generic containers, key sorting, a Data round trip). With keys added in sorted order the
/// bytes equal JSONEncoder's `.sortedKeys` output (same escapes, `\/` included), so records and
/// idempotency hashes written by earlier releases compare equal; tests hold both side by side.
struct JSONObjectWriter {
    private(set) var bytes: [UInt8]
    private var isEmpty = true

    init(capacity: Int = 320) {
        bytes = [UInt8(ascii: "{")]
        bytes.reserveCapacity(capacity)
    }

    mutating func add(_ key: StaticString, _ value: String?) {
        guard let value else { return }
        appendKey(key)
        Self.appendString(value, to: &bytes)
    }

    /// A string that by construction needs no escaping (hex digests, trace ids, topic names):
    /// copied without the per-byte scan. Checked in debug builds.
    mutating func add(_ key: StaticString, plain value: String?) {
        guard var value else { return }
        appendKey(key)
        bytes.append(UInt8(ascii: "\""))
        value.withUTF8 { buffer in
            assert(!buffer.contains(where: Self.needsEscaping), "\(key) needs escaping: \(String(decoding: buffer, as: UTF8.self))")
            bytes.append(contentsOf: buffer)
        }
        bytes.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    static func needsEscaping(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "/")
    }

    mutating func add(_ key: StaticString, _ value: Int64?) {
        guard let value else { return }
        appendKey(key)
        Self.appendDecimal(value, to: &bytes)
    }

    mutating func add(_ key: StaticString, _ value: Int32) { add(key, Int64(value)) }

    mutating func add(_ key: StaticString, _ value: Int) { add(key, Int64(value)) }

    /// A value that is JSON already (a nested object or array).
    mutating func add(_ key: StaticString, json: some Sequence<UInt8>) {
        appendKey(key)
        bytes += json
    }

    consuming func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    private mutating func appendKey(_ key: StaticString) {
        if !isEmpty { bytes.append(UInt8(ascii: ",")) }
        isEmpty = false
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes += $0 }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// The decimal digits of `value`, as `String(value)` spells them, without making a String.
    static func appendDecimal(_ value: Int64, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var count = 0
            repeat {
                digits[19 - count] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[(20 - count)...]))
        }
    }

    /// A JSON string: quotes, backslashes and control characters escaped, the rest as UTF-8.
    static func appendString(_ value: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            // Bytes that need no escaping are copied in runs (most values, ids, statuses and
            // references, are one run); an escape is appended byte by byte, not as an array.
            var runStart = 0
            for index in utf8.indices where needsEscaping(utf8[index]) {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                runStart = index + 1
                let byte = utf8[index]
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes.append(byte)
                case UInt8(ascii: "\n"): bytes.append(UInt8(ascii: "n"))
                case UInt8(ascii: "\r"): bytes.append(UInt8(ascii: "r"))
                case UInt8(ascii: "\t"): bytes.append(UInt8(ascii: "t"))
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                default:
                    bytes.append(UInt8(ascii: "u"))
                    bytes.append(UInt8(ascii: "0"))
                    bytes.append(UInt8(ascii: "0"))
                    bytes.append(hexDigits[Int(byte >> 4)])
                    bytes.append(hexDigits[Int(byte & 0xF)])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}

extension HistoryEntry {
    /// The stored form, written by hand (see `JSONObjectWriter`); read back with JSONDecoder.
    func encodedJSON() -> [UInt8] {
        var writer = JSONObjectWriter()
        writer.add("errorCode", errorCode)
        writer.add("errorMessage", errorMessage)
        writer.add("eventTime", eventTime)
        writer.add("offset", offset)
        writer.add("outcome", outcome.rawValue)
        writer.add("partition", partition)
        writer.add("processedAt", processedAt)
        writer.add("pspReference", pspReference)
        writer.add("pspStatus", pspStatus)
        writer.add("reason", reason)
        writer.add("refundId", refundId)
        writer.add("topic", plain: topic)
        writer.add("traceId", traceId)
        return writer.finish()
    }
}

extension OrderDetails {
    func encodedJSON() -> [UInt8] {
        var writer = JSONObjectWriter()
        writer.add("amount", amount)
        writer.add("createdAt", createdAt)
        writer.add("currency", currency)
        writer.add("idempotencyKey", idempotencyKey)
        writer.add("merchantId", merchantId)
        writer.add("paymentMethod", paymentMethod)
        writer.add("paymentOrderId", paymentOrderId)
        writer.add("psp", psp)
        writer.add("traceId", traceId)
        return writer.finish()
    }
}

extension CreateOrderRequest {
    /// A canonical form: two requests are "the same" for Idempotency-Key purposes iff equal.
    func canonical() -> String {
        var writer = JSONObjectWriter(capacity: 160)
        writer.add("amount", amount)
        writer.add("currency", currency)
        writer.add("merchantId", merchantId)
        writer.add("paymentMethod", paymentMethod)
        writer.add("psp", psp)
        return String(decoding: writer.finish(), as: UTF8.self)
    }
}
