import CZlib
import NIOCore

/// RFC 1952 gzip framing via zlib, the format of Kafka compression type 1.
public enum Gzip {
    /// windowBits 15 plus 16 asks zlib for a gzip wrapper instead of zlib's own.
    private static let gzipWindowBits: Int32 = 15 + 16
    /// windowBits 15 plus 32 accepts gzip or zlib wrappers, detected from the header.
    private static let autoDetectWindowBits: Int32 = 15 + 32
    private static let defaultMemoryLevel: Int32 = 8
    private static let initialInflateChunk = 16 << 10

    public static func compress(_ bytes: ByteBuffer, level: Int32 = 6) throws(RecordBatchError) -> ByteBuffer {
        guard bytes.readableBytes <= Int(UInt32.max) else {
            throw RecordBatchError(.invalidLength, "gzip input of \(bytes.readableBytes) bytes exceeds zlib's 4 GiB limit")
        }
        var stream = z_stream()
        let initStatus = czlib_deflate_init2(
            &stream, level, Z_DEFLATED, gzipWindowBits, defaultMemoryLevel, Z_DEFAULT_STRATEGY)
        guard initStatus == Z_OK else {
            throw RecordBatchError(.unsupportedCompression, "gzip deflateInit2 failed (\(initStatus)) for level \(level)")
        }
        defer { deflateEnd(&stream) }

        // deflateBound covers the gzip wrapper too, so a single Z_FINISH call always completes.
        let bound = Int(deflateBound(&stream, uLong(bytes.readableBytes)))
        var output = ByteBufferAllocator().buffer(capacity: bound)
        var status = Z_OK
        bytes.withUnsafeReadableBytes { input in
            stream.next_in = mutableBytePointer(input.baseAddress)
            stream.avail_in = uInt(input.count)
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { destination in
                stream.next_out = destination.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(min(destination.count, Int(UInt32.max)))
                status = deflate(&stream, Z_FINISH)
                return destination.count - Int(stream.avail_out)
            }
        }
        guard status == Z_STREAM_END else {
            throw RecordBatchError(.decompressionFailed, "gzip deflate did not finish (\(status)): \(zlibMessage(stream))")
        }
        return output
    }

    /// maxOutput bounds the inflated size (zip-bomb guard); exceeding it throws .decompressionFailed.
    /// Concatenated gzip members are inflated one after another, as Java's GZIPInputStream does.
    public static func decompress(_ bytes: ByteBuffer, maxOutput: Int = 64 << 20) throws(RecordBatchError) -> ByteBuffer {
        guard bytes.readableBytes <= Int(UInt32.max) else {
            throw RecordBatchError(.invalidLength, "gzip input of \(bytes.readableBytes) bytes exceeds zlib's 4 GiB limit")
        }
        // One byte of room past the limit is how an oversized stream gets noticed.
        let limit = min(max(maxOutput, 0), Int.max - 1)
        var stream = z_stream()
        let initStatus = czlib_inflate_init2(&stream, autoDetectWindowBits)
        guard initStatus == Z_OK else {
            throw RecordBatchError(.decompressionFailed, "gzip inflateInit2 failed (\(initStatus))")
        }
        defer { inflateEnd(&stream) }

        var output = ByteBufferAllocator().buffer(
            capacity: min(limit + 1, max(initialInflateChunk, bytes.readableBytes * 4)))
        let failure: RecordBatchError? = bytes.withUnsafeReadableBytes { input in
            stream.next_in = mutableBytePointer(input.baseAddress)
            stream.avail_in = uInt(input.count)
            while true {
                // Doubling growth, clipped so at most limit + 1 bytes are ever produced.
                let room = min(max(output.readableBytes, initialInflateChunk), limit + 1 - output.readableBytes)
                var status = Z_OK
                output.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { destination in
                    let window = min(room, Int(UInt32.max))
                    stream.next_out = destination.baseAddress?.assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(window)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return window - Int(stream.avail_out)
                }
                if output.readableBytes > limit {
                    return RecordBatchError(.decompressionFailed, "gzip data inflates past the \(limit) byte limit")
                }
                switch status {
                case Z_STREAM_END:
                    guard stream.avail_in > 0 else { return nil }
                    inflateReset(&stream)
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    return RecordBatchError(
                        .decompressionFailed,
                        "gzip data ends early after \(stream.total_in) of \(input.count) input bytes")
                default:
                    return RecordBatchError(
                        .decompressionFailed,
                        "gzip inflate failed (\(status)) at input byte \(stream.total_in): \(zlibMessage(stream))")
                }
            }
        }
        if let failure { throw failure }
        return output
    }

    /// zlib never writes through next_in; its C type is just not const.
    private static func mutableBytePointer(_ pointer: UnsafeRawPointer?) -> UnsafeMutablePointer<Bytef>? {
        pointer.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
    }

    private static func zlibMessage(_ stream: z_stream) -> String {
        stream.msg.map { String(cString: $0) } ?? "no message"
    }
}
