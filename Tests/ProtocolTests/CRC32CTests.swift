import NIOCore
import PaynodeTestSupport
import Protocol
import Testing

@Suite struct CRC32CTests {
    private func checksum(_ bytes: [UInt8], extending crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { CRC32C.checksum($0, extending: crc) }
    }

    @Test func checkValueMatchesTheCatalogue() {
        #expect(checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(Array("123456789".utf8).withUnsafeBytes { CRC32C.portableChecksum($0) } == 0xE306_9283)
    }

    /// RFC 3720 (iSCSI) appendix B.4 vectors exercise the 8-byte hardware loop.
    @Test func iscsiVectors() {
        #expect(checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
    }

    @Test func emptyInputReturnsTheSeed() {
        #expect(checksum([]) == 0)
        #expect(checksum([], extending: 0x1234_5678) == 0x1234_5678)
    }

    @Test func byteBufferOverloadChecksumsOnlyReadableBytes() {
        var bytes = ByteBuffer(string: "xx123456789")
        bytes.moveReaderIndex(forwardBy: 2)
        #expect(CRC32C.checksum(bytes) == 0xE306_9283)
    }

    #if arch(x86_64) || arch(arm64)
    @Test func usesHardwareOnThisMachine() {
        #expect(CRC32C.isHardwareAccelerated)
    }
    #endif

    @Test func hardwareAndPortablePathsAgreeOnEveryLengthAndAlignment() {
        var generator = SeededGenerator(seed: 0xC4C3_2C)
        let data = generator.bytes(5000)
        data.withUnsafeBytes { all in
            for alignment in 0..<8 {
                for length in Array(0..<300) + [1021, 2048, 4096 + 3, 5000 - alignment] {
                    let slice = UnsafeRawBufferPointer(rebasing: all[alignment..<alignment + length])
                    let seed = UInt32(truncatingIfNeeded: length &* 2_654_435_761)
                    #expect(CRC32C.checksum(slice) == CRC32C.portableChecksum(slice), "length \(length) at +\(alignment)")
                    #expect(
                        CRC32C.checksum(slice, extending: seed) == CRC32C.portableChecksum(slice, extending: seed),
                        "seeded, length \(length) at +\(alignment)")
                }
            }
        }
    }

    @Test func chainingEqualsChecksumOfConcatenation() {
        var generator = SeededGenerator(seed: 42)
        let data = generator.bytes(257)
        let whole = checksum(data)
        data.withUnsafeBytes { all in
            for split in 0...all.count {
                let first = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: all[..<split]))
                let chained = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: all[split...]), extending: first)
                let portableFirst = CRC32C.portableChecksum(UnsafeRawBufferPointer(rebasing: all[..<split]))
                let portableChained = CRC32C.portableChecksum(
                    UnsafeRawBufferPointer(rebasing: all[split...]), extending: portableFirst)
                #expect(chained == whole, "split at \(split)")
                #expect(portableChained == whole, "portable split at \(split)")
            }
        }
    }
}
