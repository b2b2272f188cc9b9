import CCRC32C
import NIOCore

/// CRC-32C (Castagnoli), the checksum of Kafka record batch v2.
public enum CRC32C {
    /// Checksums `bytes`, continuing from a previous result (0 starts afresh), so a
    /// region split across buffers checksums the same as the whole.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, extending crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return crc32c_extend(crc, base, bytes.count)
    }

    /// The slicing-by-8 table implementation, bypassing the CPU instructions; for
    /// checking that both paths agree.
    public static func portableChecksum(_ bytes: UnsafeRawBufferPointer, extending crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return crc32c_extend_portable(crc, base, bytes.count)
    }

    /// Whether `checksum` runs on SSE4.2 or ARMv8 CRC32 instructions.
    public static var isHardwareAccelerated: Bool { crc32c_hardware_available() != 0 }

    /// Checksums the readable bytes of `buffer`.
    public static func checksum(_ buffer: ByteBuffer) -> UInt32 {
        buffer.withUnsafeReadableBytes { checksum($0) }
    }
}
