import NIOCore

/// Kafka's primitive types (non-flexible versions) over NIO's ByteBuffer. Every read is
/// bounds-checked and throws `KafkaCodecError` naming the field, so a malformed frame is an
/// error, never a trap.
extension ByteBuffer {
    @inlinable
    mutating func readKafkaInteger<T: FixedWidthInteger>(_ field: StaticString, as: T.Type = T.self) throws(KafkaCodecError) -> T {
        guard let value = readInteger(endianness: .big, as: T.self) else {
            throw KafkaCodecError(.truncated, "frame ends inside \(field)")
        }
        return value
    }

    mutating func readKafkaBool(_ field: StaticString) throws(KafkaCodecError) -> Bool {
        try readKafkaInteger(field, as: Int8.self) != 0
    }

    /// INT16 length then UTF-8; -1 is null.
    mutating func readKafkaNullableString(_ field: StaticString) throws(KafkaCodecError) -> String? {
        let length = Int(try readKafkaInteger(field, as: Int16.self))
        if length == -1 { return nil }
        guard length >= 0 else { throw KafkaCodecError(.invalidLength, "\(field) has length \(length)") }
        guard let string = readString(length: length) else {
            throw KafkaCodecError(.truncated, "\(field) of \(length) bytes runs past the frame")
        }
        return string
    }

    mutating func readKafkaString(_ field: StaticString) throws(KafkaCodecError) -> String {
        guard let string = try readKafkaNullableString(field) else {
            throw KafkaCodecError(.invalidValue, "\(field) is null")
        }
        return string
    }

    /// INT32 length then bytes (as a slice sharing this buffer's storage); -1 is null.
    mutating func readKafkaNullableBytes(_ field: StaticString) throws(KafkaCodecError) -> ByteBuffer? {
        let length = Int(try readKafkaInteger(field, as: Int32.self))
        if length == -1 { return nil }
        guard length >= 0 else { throw KafkaCodecError(.invalidLength, "\(field) has length \(length)") }
        guard let slice = readSlice(length: length) else {
            throw KafkaCodecError(.truncated, "\(field) of \(length) bytes runs past the frame")
        }
        return slice
    }

    mutating func readKafkaBytes(_ field: StaticString) throws(KafkaCodecError) -> ByteBuffer {
        try readKafkaNullableBytes(field) ?? ByteBuffer()
    }

    /// INT32 count then elements; -1 (null) reads as empty. The count is checked against the
    /// bytes left (each element takes at least `minimumElementSize`), so a forged count cannot
    /// make us reserve gigabytes.
    mutating func readKafkaArray<Element>(_ field: StaticString, minimumElementSize: Int = 1,
                                          _ element: (inout ByteBuffer) throws(KafkaCodecError) -> Element) throws(KafkaCodecError) -> [Element] {
        let count = Int(try readKafkaInteger(field, as: Int32.self))
        if count == -1 { return [] }
        guard count >= 0 else { throw KafkaCodecError(.invalidLength, "\(field) has count \(count)") }
        guard count * max(minimumElementSize, 1) <= readableBytes else {
            throw KafkaCodecError(.truncated, "\(field) claims \(count) elements but only \(readableBytes) bytes remain")
        }
        var elements: [Element] = []
        elements.reserveCapacity(count)
        for _ in 0..<count { elements.append(try element(&self)) }
        return elements
    }

    /// Like `readKafkaArray`, but keeps null distinct from empty.
    mutating func readKafkaNullableArray<Element>(_ field: StaticString, minimumElementSize: Int = 1,
                                                  _ element: (inout ByteBuffer) throws(KafkaCodecError) -> Element) throws(KafkaCodecError) -> [Element]? {
        guard let count = getInteger(at: readerIndex, endianness: .big, as: Int32.self) else {
            throw KafkaCodecError(.truncated, "frame ends inside \(field)")
        }
        if count == -1 {
            moveReaderIndex(forwardBy: 4)
            return nil
        }
        return try readKafkaArray(field, minimumElementSize: minimumElementSize, element)
    }

    mutating func writeKafkaInteger<T: FixedWidthInteger>(_ value: T) {
        writeInteger(value, endianness: .big)
    }

    mutating func writeKafkaBool(_ value: Bool) {
        writeInteger(Int8(value ? 1 : 0))
    }

    mutating func writeKafkaNullableString(_ string: String?) {
        guard let string else { writeInteger(Int16(-1), endianness: .big); return }
        let utf8 = string.utf8
        writeInteger(Int16(truncatingIfNeeded: utf8.count), endianness: .big)
        writeBytes(utf8)
    }

    mutating func writeKafkaString(_ string: String) { writeKafkaNullableString(string) }

    mutating func writeKafkaNullableBytes(_ bytes: ByteBuffer?) {
        guard let bytes else { writeInteger(Int32(-1), endianness: .big); return }
        writeInteger(Int32(bytes.readableBytes), endianness: .big)
        writeImmutableBuffer(bytes)
    }

    mutating func writeKafkaBytes(_ bytes: ByteBuffer) { writeKafkaNullableBytes(bytes) }

    mutating func writeKafkaArray<Element>(_ elements: [Element], _ element: (inout ByteBuffer, Element) -> Void) {
        writeInteger(Int32(elements.count), endianness: .big)
        for item in elements { element(&self, item) }
    }

    mutating func writeKafkaNullableArray<Element>(_ elements: [Element]?, _ element: (inout ByteBuffer, Element) -> Void) {
        guard let elements else { writeInteger(Int32(-1), endianness: .big); return }
        writeKafkaArray(elements, element)
    }
}

/// The request header: v1 (api key, version, correlation id, client id) for non-flexible
/// requests, v2 (the same, then tagged fields) for flexible ones. The client id stays a
/// non-compact string in v2, as in Kafka.
public struct KafkaRequestHeader: Sendable, Hashable {
    public var apiKey: Int16
    public var apiVersion: Int16
    public var correlationId: Int32
    public var clientId: String?

    public init(apiKey: Int16, apiVersion: Int16, correlationId: Int32, clientId: String?) {
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.correlationId = correlationId
        self.clientId = clientId
    }

    public var api: KafkaAPIKey? { KafkaAPIKey(rawValue: apiKey) }

    /// Whether this request (and so its header and its response) uses the flexible encoding.
    /// An unknown API is not: its header is read as v1 and the request refused.
    public var isFlexible: Bool { api?.isFlexible(apiVersion) ?? false }

    /// Whether the response carries response header v1 (a tagged-field section after the
    /// correlation id). ApiVersions never does, so that a client can read the answer to a
    /// version the broker does not know (KIP-511).
    public var hasFlexibleResponseHeader: Bool { isFlexible && api != .apiVersions }

    public static func decode(from buffer: inout ByteBuffer) throws(KafkaCodecError) -> KafkaRequestHeader {
        let header = KafkaRequestHeader(apiKey: try buffer.readKafkaInteger("api_key"),
                                        apiVersion: try buffer.readKafkaInteger("api_version"),
                                        correlationId: try buffer.readKafkaInteger("correlation_id"),
                                        clientId: try buffer.readKafkaNullableString("client_id"))
        if header.isFlexible { try buffer.skipKafkaTaggedFields("request header tagged fields") }
        return header
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeKafkaInteger(apiKey)
        buffer.writeKafkaInteger(apiVersion)
        buffer.writeKafkaInteger(correlationId)
        buffer.writeKafkaNullableString(clientId)
        if isFlexible { buffer.writeKafkaEmptyTaggedFields() }
    }
}

/// A request body: decoded by the broker, encoded by paynode's own client.
public protocol KafkaRequestBody: Sendable {
    static var apiKey: KafkaAPIKey { get }
    static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self
    func encode(into buffer: inout ByteBuffer, version: Int16)
}

/// A response body: encoded by the broker, decoded by paynode's own client. The response
/// header (v0, or v1 with its empty tagged fields for flexible versions) is written by the
/// framing code.
public protocol KafkaResponseBody: Sendable {
    static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self
    func encode(into buffer: inout ByteBuffer, version: Int16)
}
