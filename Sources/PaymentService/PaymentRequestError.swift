/// A request the payment API refuses before anything is read or stored: a field, header or
/// query parameter that is not what the contract says. `code` is the error's machine name
/// (`invalid_amount`), `message` says what was expected; the HTTP adapter answers it.
public struct PaymentRequestError: Error, Sendable, Hashable {
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}
