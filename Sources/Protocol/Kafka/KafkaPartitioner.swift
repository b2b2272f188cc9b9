/// Kafka's default partitioning of keyed records, bit for bit as the Java client does it
/// (`Utils.murmur2`, then `Utils.toPositive(hash) % numPartitions`), so every Kafka client
/// agrees on the partition of a key.
public enum KafkaPartitioner {
    /// Java's `org.apache.kafka.common.utils.Utils.murmur2` (seed 0x9747b28c), as a signed Int32.
    public static func murmur2(_ data: some Collection<UInt8>) -> Int32 {
        let bytes = Array(data)
        let length = bytes.count
        let m: UInt32 = 0x5bd1_e995
        let r: UInt32 = 24
        var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: length)
        let blocks = length / 4
        for block in 0..<blocks {
            let i = block * 4
            var k = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
            k = k &* m
            k ^= k >> r
            k = k &* m
            h = h &* m
            h ^= k
        }
        let tail = length & ~3
        switch length % 4 {
        case 3:
            h ^= UInt32(bytes[tail + 2]) << 16
            h ^= UInt32(bytes[tail + 1]) << 8
            h ^= UInt32(bytes[tail])
            h = h &* m
        case 2:
            h ^= UInt32(bytes[tail + 1]) << 8
            h ^= UInt32(bytes[tail])
            h = h &* m
        case 1:
            h ^= UInt32(bytes[tail])
            h = h &* m
        default:
            break
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }

    /// Java's `Utils.toPositive`: clears the sign bit (not `abs`, which differs for Int32.min).
    public static func toPositive(_ value: Int32) -> Int32 {
        value & 0x7fff_ffff
    }

    /// The partition of a keyed record among `partitionCount` partitions.
    public static func partition(forKey key: some Collection<UInt8>, partitionCount: Int) -> Int32 {
        precondition(partitionCount > 0, "a topic has at least one partition")
        return Int32(Int(toPositive(murmur2(key))) % partitionCount)
    }
}
