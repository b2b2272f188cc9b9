import NIOCore

/// Kafka's `uuid` wire type (16 bytes, big-endian halves): topic ids from DeleteTopics v6,
/// Metadata v10 and Fetch v13 on. paynode names topics only by name, so every topic id it
/// meets is compared against zero (`Uuid.ZERO_UUID`, "no id given").
public struct KafkaUUID: Sendable, Hashable, CustomStringConvertible {
    public var mostSignificantBits: UInt64
    public var leastSignificantBits: UInt64

    public init(mostSignificantBits: UInt64, leastSignificantBits: UInt64) {
        self.mostSignificantBits = mostSignificantBits
        self.leastSignificantBits = leastSignificantBits
    }

    public static let zero = KafkaUUID(mostSignificantBits: 0, leastSignificantBits: 0)

    public var isZero: Bool { self == .zero }

    public var description: String {
        func padded(_ half: UInt64) -> String {
            let digits = String(half, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        return padded(mostSignificantBits) + padded(leastSignificantBits)
    }
}

extension ByteBuffer {
    mutating func readKafkaUUID(_ field: StaticString) throws(KafkaCodecError) -> KafkaUUID {
        let high: UInt64 = try readKafkaInteger(field)
        let low: UInt64 = try readKafkaInteger(field)
        return KafkaUUID(mostSignificantBits: high, leastSignificantBits: low)
    }

    mutating func writeKafkaUUID(_ uuid: KafkaUUID) {
        writeKafkaInteger(uuid.mostSignificantBits)
        writeKafkaInteger(uuid.leastSignificantBits)
    }
}
