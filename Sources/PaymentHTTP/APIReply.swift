import HTTPTypes

/// One answer of the payment API as it goes on the wire, before a server makes it a response:
/// the status, the JSON body (every answer is `application/json`) and the headers it adds. Every status code, header and error body the API
/// sends is chosen where these are made (`APIReply+Payments.swift`, `APIError`), and only there.
package struct APIReply: Sendable, Hashable {
    package var status: Int
    /// The JSON body; the server ends it with a newline.
    package var body: String
    /// What the answer adds (`Retry-After`, `Idempotent-Replayed`, `WWW-Authenticate`), sent
    /// after the server's own (`Content-Type`, `Content-Length`); none on the hot path.
    package var headers: HTTPFields

    package init(status: Int, json body: String) {
        self.status = status
        self.body = body
        headers = [:]
    }

    package static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}
