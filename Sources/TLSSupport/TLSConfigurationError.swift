/// A TLS flag that makes no sense, or a PEM file that cannot be used: the message names the
/// flag or the file, since it is shown to the operator as is.
public struct TLSConfigurationError: Error, CustomStringConvertible, Equatable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
