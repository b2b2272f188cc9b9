import NIOCore

/// Follows Kafka frame boundaries (INT32 size, then that many bytes) in a byte stream without
/// buffering anything, so a connection guard can tell "between requests" (idle) from "in the
/// middle of one" (a slow sender: the request read timeout applies). `KafkaFrameDecoder` still
/// does the framing and refuses oversized frames; this only counts.
public struct KafkaFrameTracker: Sendable, Hashable {
    /// Bytes of the current frame's size field seen so far (0...3), and their value.
    private var sizeBytesSeen = 0
    private var size: UInt32 = 0
    /// Body bytes of the current frame still to come.
    private var remaining: Int64 = 0

    public init() {}

    /// True while a frame has started but not fully arrived.
    public var isInsideFrame: Bool { sizeBytesSeen > 0 || remaining > 0 }

    /// Frames completed by `observe` so far.
    public private(set) var completedFrames: Int = 0

    /// Accounts for `buffer`'s readable bytes (not consumed).
    public mutating func observe(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { bytes in
            var index = 0
            while index < bytes.count {
                if remaining > 0 {
                    let take = Int(min(remaining, Int64(bytes.count - index)))
                    remaining -= Int64(take)
                    index += take
                    if remaining == 0 { completedFrames &+= 1 }
                    continue
                }
                size = size << 8 | UInt32(bytes[index])
                sizeBytesSeen += 1
                index += 1
                if sizeBytesSeen == 4 {
                    // A negative size is the decoder's to refuse; here it just ends the frame.
                    let claimed = Int32(bitPattern: size)
                    remaining = Int64(max(claimed, 0))
                    sizeBytesSeen = 0
                    size = 0
                    if remaining == 0 { completedFrames &+= 1 }
                }
            }
        }
    }
}
