import NIOCore

/// Kafka's flexible-version types (KIP-482): unsigned varints, compact strings, bytes and
/// arrays (length + 1, 0 is null) and tagged fields. Every read is bounds-checked like the
/// fixed-width ones in KafkaWire.swift: a forged length or count is an error naming the field.
extension ByteBuffer {
    /// An unsigned varint of at most 32 bits (5 bytes): every length, count and tag in a
    /// flexible message is one.
    mutating func readKafkaUnsignedVarint(_ field: StaticString) throws(KafkaCodecError) -> UInt32 {
        let outcome = withUnsafeReadableBytes { VarintCoding.decode($0, at: 0, maxBytes: VarintCoding.maxBytes32) }
        switch outcome {
        case .value(let raw, let byteCount):
            guard let value = UInt32(exactly: raw) else {
                throw KafkaCodecError(.invalidValue, "\(field) exceeds 32 bits")
            }
            moveReaderIndex(forwardBy: byteCount)
            return value
        case .truncated:
            throw KafkaCodecError(.truncated, "frame ends inside \(field)")
        case .tooLong:
            throw KafkaCodecError(.invalidValue, "\(field) is a varint longer than 32 bits")
        }
    }

    mutating func writeKafkaUnsignedVarint(_ value: UInt32) {
        var remaining = value
        while remaining >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        writeInteger(UInt8(remaining))
    }

    /// The compact length prefix: N + 1, 0 meaning null. Nil for null, else a length that fits
    /// in what is left of the frame.
    private mutating func readKafkaCompactLength(_ field: StaticString) throws(KafkaCodecError) -> Int? {
        let raw = try readKafkaUnsignedVarint(field)
        if raw == 0 { return nil }
        let length = Int(raw - 1)
        guard length <= readableBytes else {
            throw KafkaCodecError(.truncated, "\(field) of \(length) bytes runs past the frame")
        }
        return length
    }

    mutating func readKafkaCompactNullableString(_ field: StaticString) throws(KafkaCodecError) -> String? {
        try readKafkaCompactNullableBytes(field).map { String(buffer: $0) }
    }

    mutating func readKafkaCompactString(_ field: StaticString) throws(KafkaCodecError) -> String {
        guard let string = try readKafkaCompactNullableString(field) else {
            throw KafkaCodecError(.invalidValue, "\(field) is null")
        }
        return string
    }

    /// Compact bytes as a slice sharing this buffer's storage; nil is null.
    mutating func readKafkaCompactNullableBytes(_ field: StaticString) throws(KafkaCodecError) -> ByteBuffer? {
        guard let length = try readKafkaCompactLength(field) else { return nil }
        guard let slice = readSlice(length: length) else {
            throw KafkaCodecError(.truncated, "\(field) of \(length) bytes runs past the frame")
        }
        return slice
    }

    mutating func readKafkaCompactBytes(_ field: StaticString) throws(KafkaCodecError) -> ByteBuffer {
        try readKafkaCompactNullableBytes(field) ?? ByteBuffer()
    }

    /// A compact array; null reads as empty. The count is checked against the bytes left (each
    /// element takes at least `minimumElementSize`) before anything is reserved.
    mutating func readKafkaCompactArray<Element>(_ field: StaticString, minimumElementSize: Int = 1,
                                                 _ element: (inout ByteBuffer) throws(KafkaCodecError) -> Element) throws(KafkaCodecError) -> [Element] {
        let raw = try readKafkaUnsignedVarint(field)
        if raw == 0 { return [] }
        let count = Int(raw - 1)
        guard count * max(minimumElementSize, 1) <= readableBytes else {
            throw KafkaCodecError(.truncated, "\(field) claims \(count) elements but only \(readableBytes) bytes remain")
        }
        var elements: [Element] = []
        elements.reserveCapacity(count)
        for _ in 0..<count { elements.append(try element(&self)) }
        return elements
    }

    /// A compact array that may be null (N + 1 elements, 0 for null), checked like
    /// `readKafkaCompactArray`.
    mutating func readKafkaCompactNullableArray<Element>(_ field: StaticString, minimumElementSize: Int = 1,
                                                         _ element: (inout ByteBuffer) throws(KafkaCodecError) -> Element) throws(KafkaCodecError) -> [Element]? {
        guard let first = getInteger(at: readerIndex, as: UInt8.self) else {
            throw KafkaCodecError(.truncated, "\(field) runs past the frame")
        }
        if first == 0 {
            moveReaderIndex(forwardBy: 1)
            return nil
        }
        return try readKafkaCompactArray(field, minimumElementSize: minimumElementSize, element)
    }

    mutating func writeKafkaCompactNullableArray<Element>(_ elements: [Element]?, _ element: (inout ByteBuffer, Element) -> Void) {
        guard let elements else { writeKafkaUnsignedVarint(0); return }
        writeKafkaCompactArray(elements, element)
    }

    mutating func writeKafkaCompactNullableString(_ string: String?) {
        guard let string else { writeKafkaUnsignedVarint(0); return }
        writeKafkaUnsignedVarint(UInt32(string.utf8.count) + 1)
        writeString(string)
    }

    mutating func writeKafkaCompactString(_ string: String) { writeKafkaCompactNullableString(string) }

    mutating func writeKafkaCompactNullableBytes(_ bytes: ByteBuffer?) {
        guard let bytes else { writeKafkaUnsignedVarint(0); return }
        writeKafkaUnsignedVarint(UInt32(bytes.readableBytes) + 1)
        writeImmutableBuffer(bytes)
    }

    mutating func writeKafkaCompactBytes(_ bytes: ByteBuffer) { writeKafkaCompactNullableBytes(bytes) }

    mutating func writeKafkaCompactArray<Element>(_ elements: [Element], _ element: (inout ByteBuffer, Element) -> Void) {
        writeKafkaUnsignedVarint(UInt32(elements.count) + 1)
        for item in elements { element(&self, item) }
    }

    /// Skips a tagged-field section: none of the tags paynode serves carries meaning for it, and
    /// Kafka's rule is that a receiver ignores tags it does not know. Tags must be strictly
    /// increasing and every field must fit in the frame.
    mutating func skipKafkaTaggedFields(_ field: StaticString) throws(KafkaCodecError) {
        let count = try readKafkaUnsignedVarint(field)
        // Each tagged field takes at least two bytes (tag and size).
        guard Int(count) * 2 <= readableBytes else {
            throw KafkaCodecError(.truncated, "\(field) claims \(count) tagged fields but only \(readableBytes) bytes remain")
        }
        var previousTag: UInt32?
        for _ in 0..<count {
            let tag = try readKafkaUnsignedVarint(field)
            if let previousTag, tag <= previousTag {
                throw KafkaCodecError(.invalidValue, "\(field) has tag \(tag) after tag \(previousTag)")
            }
            previousTag = tag
            let size = Int(try readKafkaUnsignedVarint(field))
            guard size <= readableBytes else {
                throw KafkaCodecError(.truncated, "\(field) tag \(tag) of \(size) bytes runs past the frame")
            }
            moveReaderIndex(forwardBy: size)
        }
    }

    /// An empty tagged-field section: paynode sends no tagged fields.
    mutating func writeKafkaEmptyTaggedFields() {
        writeInteger(UInt8(0))
    }
}

/// The same field in either encoding: an API's flexible versions (compact) and its classic ones,
/// so a codec that spans both is written once.
extension ByteBuffer {
    mutating func readKafkaString(_ field: StaticString, flexible: Bool) throws(KafkaCodecError) -> String {
        try flexible ? readKafkaCompactString(field) : readKafkaString(field)
    }

    mutating func readKafkaNullableString(_ field: StaticString, flexible: Bool) throws(KafkaCodecError) -> String? {
        try flexible ? readKafkaCompactNullableString(field) : readKafkaNullableString(field)
    }

    mutating func readKafkaArray<Element>(_ field: StaticString, flexible: Bool, minimumElementSize: Int = 1,
                                          _ element: (inout ByteBuffer) throws(KafkaCodecError) -> Element) throws(KafkaCodecError) -> [Element] {
        try flexible ? readKafkaCompactArray(field, minimumElementSize: minimumElementSize, element)
            : readKafkaArray(field, minimumElementSize: minimumElementSize, element)
    }

    mutating func readKafkaNullableArray<Element>(_ field: StaticString, flexible: Bool, minimumElementSize: Int = 1,
                                                  _ element: (inout ByteBuffer) throws(KafkaCodecError) -> Element) throws(KafkaCodecError) -> [Element]? {
        try flexible ? readKafkaCompactNullableArray(field, minimumElementSize: minimumElementSize, element)
            : readKafkaNullableArray(field, minimumElementSize: minimumElementSize, element)
    }

    /// The tagged fields that end a flexible structure; nothing in a classic one.
    mutating func skipKafkaTaggedFields(_ field: StaticString, flexible: Bool) throws(KafkaCodecError) {
        if flexible { try skipKafkaTaggedFields(field) }
    }

    mutating func writeKafkaString(_ string: String, flexible: Bool) {
        if flexible { writeKafkaCompactString(string) } else { writeKafkaString(string) }
    }

    mutating func writeKafkaNullableString(_ string: String?, flexible: Bool) {
        if flexible { writeKafkaCompactNullableString(string) } else { writeKafkaNullableString(string) }
    }

    mutating func writeKafkaArray<Element>(_ elements: [Element], flexible: Bool, _ element: (inout ByteBuffer, Element) -> Void) {
        if flexible { writeKafkaCompactArray(elements, element) } else { writeKafkaArray(elements, element) }
    }

    mutating func writeKafkaNullableArray<Element>(_ elements: [Element]?, flexible: Bool, _ element: (inout ByteBuffer, Element) -> Void) {
        if flexible { writeKafkaCompactNullableArray(elements, element) } else { writeKafkaNullableArray(elements, element) }
    }

    /// Empty tagged fields at the end of a flexible structure.
    mutating func writeKafkaEmptyTaggedFields(flexible: Bool) {
        if flexible { writeKafkaEmptyTaggedFields() }
    }
}
