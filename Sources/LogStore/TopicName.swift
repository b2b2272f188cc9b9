/// Kafka's topic name rules (`org.apache.kafka.common.internals.Topic.validate`).
public enum TopicName {
    public static let maximumLength = 249

    public static func validate(_ name: String) throws(LogStoreError) {
        if name.isEmpty { throw LogStoreError(.invalidTopicName, "topic name is empty") }
        if name == "." || name == ".." {
            throw LogStoreError(.invalidTopicName, "topic name cannot be '.' or '..'")
        }
        if name.utf8.count > maximumLength {
            throw LogStoreError(.invalidTopicName, "topic name '\(name.prefix(40))...' is longer than \(maximumLength) characters")
        }
        for byte in name.utf8 where !isLegal(byte) {
            throw LogStoreError(.invalidTopicName,
                "topic name '\(name)' contains '\(Character(Unicode.Scalar(byte)))'; only ASCII letters, digits, '.', '_' and '-' are allowed")
        }
    }

    private static func isLegal(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }
}
