import Protocol
import Testing

/// Reference values: Apache Kafka's `UtilsTest.testMurmur2` and kafka-python's
/// `kafka.partitioner.default.murmur2` (a port of the Java code), computed offline.
@Suite struct Murmur2Tests {
    @Test(arguments: [
        ("21", Int32(-973_932_308)),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
        ("abc", 479_470_107),
        ("", 275_646_681),
        ("a", -1_563_381_124),
        ("ab", 316_155_434),
        ("abcd", -1_323_649_548),
        ("payment-order-1", 226_333_941),
        ("zé€", 581_947_367),
    ])
    func javaVectors(input: String, expected: Int32) {
        #expect(KafkaPartitioner.murmur2(Array(input.utf8)) == expected)
    }

    @Test func bytesAboveSeventyEightAreUnsigned() {
        // Java reads bytes as signed and masks with 0xff; the result must not depend on sign.
        #expect(KafkaPartitioner.murmur2([0xff, 0x80, 0x7f, 0x00, 0x01]) == 69_563_401)
    }

    @Test(arguments: [
        ("21", 3, Int32(0)), ("21", 7, 3), ("foobar", 3, 0), ("a-little-bit-long-string", 3, 2),
        ("a-little-bit-long-string", 7, 1), ("abc", 7, 4), ("a", 3, 1), ("a", 7, 5), ("abcd", 100, 0),
        ("payment-order-1", 3, 0), ("payment-order-1", 7, 1), ("zé€", 100, 67),
    ])
    func partitionForKey(key: String, partitions: Int, expected: Int32) {
        #expect(KafkaPartitioner.partition(forKey: Array(key.utf8), partitionCount: partitions) == expected)
    }

    @Test func toPositiveClearsTheSignBit() {
        #expect(KafkaPartitioner.toPositive(-1) == Int32.max)
        #expect(KafkaPartitioner.toPositive(Int32.min) == 0)
        #expect(KafkaPartitioner.toPositive(42) == 42)
    }
}
