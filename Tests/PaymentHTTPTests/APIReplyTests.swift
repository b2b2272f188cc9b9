import Foundation
import HTTPTypes
import PaymentHTTP
import PaymentService
import Testing

/// The payment API's replies: the status, headers and body of every outcome and error, as the
/// wire has carried them (Tests/compat checks the same bytes over HTTP).
@Suite("Payment API replies")
struct APIReplyTests {
    static let order = #"{"paymentOrderId":"01a20a1d-1df5-7000-82b1-4b8a7559036f","status":"PENDING"}"#

    func error(_ reply: APIReply) throws -> [String: String] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: [String: String]])
        return try #require(object["error"])
    }

    @Test func aCreationIs201AndAReplaySaysSo() {
        let created = APIReply(creation: .created(order: Self.order))
        #expect(created.status == 201 && created.body == Self.order)
        #expect(created.headers.isEmpty)
        let replayed = APIReply(creation: .replayed(order: Self.order))
        #expect(replayed.status == 201 && replayed.body == Self.order)
        #expect(replayed.headers == [APIReply.idempotentReplayed: "true"])
    }

    @Test func refusedCreationsAreTheirErrors() {
        let invalid = PaymentRequestError(code: "invalid_amount", message: "amount must be an integer number of minor units greater than 0")
        #expect(APIReply(creation: .invalid(invalid)) == APIReply(.invalid(invalid)))
        #expect(APIReply(creation: .idempotencyKeyReused(key: "k")) == APIReply(.idempotencyKeyReused(key: "k")))
        #expect(APIReply(creation: .merchantForbidden) == APIReply(.merchantForbidden))
        #expect(APIReply(creation: .invalid(invalid)).headers[APIReply.idempotentReplayed] == nil)
    }

    @Test func aLookupIs200OrANotFoundNamingTheId() throws {
        #expect(APIReply(OrderLookup.found(Self.order), id: "x") == APIReply(status: 200, json: Self.order))
        let missing = APIReply(OrderLookup.notFound, id: "nope")
        #expect(missing.status == 404)
        #expect(missing.body == #"{"error":{"code":"not_found","message":"no payment order nope"}}"#)
        #expect(APIReply.ok("[]") == APIReply(status: 200, json: "[]"))
    }

    /// The bodies byte for byte, as the API answered them before they were built in one place.
    @Test(arguments: [
        (APIError.invalid(PaymentRequestError(code: "invalid_limit", message: "limit must be 1 to 500")), 400,
         #"{"error":{"code":"invalid_limit","message":"limit must be 1 to 500"}}"#),
        (.invalid(PaymentRequestError(code: "invalid_status", message: "status must be PENDING, SUCCESSFUL or FAILED")), 400,
         #"{"error":{"code":"invalid_status","message":"status must be PENDING, SUCCESSFUL or FAILED"}}"#),
        (.bodyTooLarge(maximumBytes: 65536), 413, #"{"error":{"code":"body_too_large","message":"the body exceeds 65536 bytes"}}"#),
        (.idempotencyKeyReused(key: "k-1"), 422,
         #"{"error":{"code":"idempotency_key_reused","message":"Idempotency-Key k-1 was used with a different request"}}"#),
        (.merchantForbidden, 403, #"{"error":{"code":"forbidden","message":"this API key creates orders only for its own merchant"}}"#),
        (.missingScope(.ordersWrite), 403, #"{"error":{"code":"forbidden","message":"this API key lacks the orders:write scope"}}"#),
        (.missingScope(nil), 403, #"{"error":{"code":"forbidden","message":"this API key lacks the needed scope"}}"#),
        (.internalFailure, 500, #"{"error":{"code":"internal","message":"the request failed inside the node; see its log"}}"#),
        (.keysUnavailable, 503, #"{"error":{"code":"unavailable","message":"API keys cannot be read right now; retry"}}"#),
        (.storeUnavailable(reason: "mapFull"), 503,
         #"{"error":{"code":"unavailable","message":"the store cannot take this write right now (mapFull); retry"}}"#),
        (.rateLimited(retryAfterSeconds: 3), 429,
         #"{"error":{"code":"rate_limited","message":"this API key is over its request rate; retry after Retry-After seconds"}}"#),
    ] as [(APIError, Int, String)])
    func everyErrorHasItsStatusAndBody(error: APIError, status: Int, body: String) {
        let reply = APIReply(error)
        #expect(reply.status == status && reply.body == body)
    }

    @Test func refusalsCarryTheirHeaders() {
        #expect(APIReply(.rateLimited(retryAfterSeconds: 3)).headers == [.retryAfter: "3"])
        #expect(APIReply(.storeUnavailable(reason: "mapFull")).headers == [.retryAfter: String(APIError.storeRetryAfterSeconds)])
        #expect(APIReply(.unauthenticated(.missing)).headers == [.wwwAuthenticate: #"Bearer realm="paynode""#])
        for failure in [APIAuthFailure.malformed, .unknown, .revoked, .expired] {
            #expect(APIReply(.unauthenticated(failure)).headers == [.wwwAuthenticate: #"Bearer realm="paynode", error="invalid_token""#])
        }
        for error in [APIError.internalFailure, .keysUnavailable, .merchantForbidden, .notFound(id: "x")] {
            #expect(APIReply(error).headers.isEmpty)
        }
    }

    @Test(arguments: [
        (APIAuthFailure.missing, "an Authorization: Bearer pk_... header is required"),
        (.malformed, "the bearer token is not an API key (pk_ and 40 letters or digits)"),
        (.unknown, "unknown API key"), (.revoked, "this API key was revoked"), (.expired, "this API key has expired"),
    ])
    func unauthenticatedRequestsAre401(failure: APIAuthFailure, message: String) throws {
        let reply = APIReply(.unauthenticated(failure))
        #expect(reply.status == 401)
        #expect(try error(reply) == ["code": "unauthenticated", "message": message])
    }

    /// A client's id is repeated JSON-escaped and cut to what an id could be.
    @Test func aNotFoundIdIsEscapedAndCut() throws {
        let hostile = "x\"}\r\n\u{1B}[31m\\"
        let reply = APIReply(.notFound(id: hostile))
        #expect(try error(reply)["message"] == "no payment order \(hostile)")
        #expect(!reply.body.contains("\r") && !reply.body.contains("\n") && !reply.body.contains("\u{1B}"))
        let long = String(repeating: "é", count: 100)
        #expect(try error(APIReply(.notFound(id: long)))["message"] == "no payment order \(String(repeating: "é", count: 64))...")
        let exact = String(repeating: "a", count: APIError.maximumEchoedIdScalars)
        #expect(try error(APIReply(.notFound(id: exact)))["message"] == "no payment order \(exact)")
    }

    @Test func errorBodiesAreJSONEscaped() throws {
        let body = APIError.body(code: "not_found", message: "no payment order x\"}\r\n\u{1B}[31m\\")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: [String: String]])
        #expect(object["error"]?["message"] == "no payment order x\"}\r\n\u{1B}[31m\\")
        #expect(!body.contains("\r") && !body.contains("\n") && !body.contains("\u{1B}"))
    }
}
