/// A Kafka frame that cannot be decoded: truncated, a negative length, an unknown API or an
/// unsupported version. The broker answers it with an error code or closes the connection,
/// and logs `description`.
public struct KafkaCodecError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        case truncated
        case invalidLength
        case invalidValue
        case unknownAPI
        case unsupportedVersion
        case frameTooLarge
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
