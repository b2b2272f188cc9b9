import NIOCore

/// Splits a TCP byte stream into Kafka frames (INT32 size, then that many bytes) with an
/// explicit maximum: NIO's LengthFieldBasedFrameDecoder has none, and an unchecked size from a
/// client would make us buffer gigabytes.
public struct KafkaFrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    public let maximumFrameSize: Int

    public init(maximumFrameSize: Int) {
        self.maximumFrameSize = maximumFrameSize
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let size = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int32.self) else { return nil }
        guard size >= 0 else {
            throw KafkaCodecError(.invalidLength, "frame size \(size) is negative")
        }
        guard Int(size) <= maximumFrameSize else {
            throw KafkaCodecError(.frameTooLarge, "frame of \(size) bytes exceeds the maximum of \(maximumFrameSize)")
        }
        guard buffer.readableBytes >= 4 + Int(size) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readSlice(length: Int(size))
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        try decode(buffer: &buffer)
    }
}

/// Frames a response: INT32 size, the response header (v0: the correlation id; v1 for
/// flexible versions: then an empty tagged-field section), then the body.
public enum KafkaResponseFrame {
    /// Throws .frameTooLarge when the body cannot be framed (over `Int32.max` bytes): handlers
    /// bound what they answer, this is the last line so that no request can make a node trap.
    public static func encode(correlationId: Int32, flexibleHeader: Bool = false,
                              allocator: ByteBufferAllocator = ByteBufferAllocator(),
                              body: (inout ByteBuffer) -> Void) throws(KafkaCodecError) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256)
        buffer.writeInteger(Int32(0), endianness: .big)
        buffer.writeInteger(correlationId, endianness: .big)
        if flexibleHeader { buffer.writeKafkaEmptyTaggedFields() }
        body(&buffer)
        try KafkaFrameSize.set(in: &buffer)
        return buffer
    }

    /// The client's side of the response header after the correlation id: v1 (flexible
    /// versions, except ApiVersions, whose header stays v0 so a client can read its error)
    /// ends with tagged fields, skipped here before the body is decoded.
    public static func skipHeaderTaggedFields(in body: inout ByteBuffer, api: KafkaAPIKey, version: Int16) throws(KafkaCodecError) {
        guard api.isFlexible(version), api != .apiVersions else { return }
        try body.skipKafkaTaggedFields("response header tagged fields")
    }
}

enum KafkaFrameSize {
    /// Writes the size prefix of the frame at the reader index.
    static func set(in buffer: inout ByteBuffer) throws(KafkaCodecError) {
        guard let size = Int32(exactly: buffer.readableBytes - 4) else {
            throw KafkaCodecError(.frameTooLarge, "a frame of \(buffer.readableBytes - 4) bytes exceeds the protocol's 2 GiB")
        }
        buffer.setInteger(size, at: buffer.readerIndex, endianness: .big)
    }
}

/// Frames a request (paynode's own client): INT32 size, request header v1, body.
public enum KafkaRequestFrame {
    public static func encode(header: KafkaRequestHeader, allocator: ByteBufferAllocator = ByteBufferAllocator(),
                              body: (inout ByteBuffer) -> Void) throws(KafkaCodecError) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256)
        buffer.writeInteger(Int32(0), endianness: .big)
        header.encode(into: &buffer)
        body(&buffer)
        try KafkaFrameSize.set(in: &buffer)
        return buffer
    }
}
