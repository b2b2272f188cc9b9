import Crypto
import Foundation
import Hummingbird
import HTTPTypes
import Ledger
import NIOCore

/// The ledger's query API on its HTTP listener: balances, an account's entries newest first,
/// and the whole ledger verified. Read-only. With `--api-token-file`, every route but health
/// and metrics needs `Authorization: Bearer <token>`.
enum LedgerAPI {
    static func register(on router: Router<BasicRequestContext>, ledger: LedgerStore, token: String?) {
        let expected = token.map { Array(SHA256.hash(data: Array($0.utf8))) }
        @Sendable func refusal(_ request: Request) -> Response? {
            guard let expected else { return nil }
            let header = request.headers[.authorization] ?? ""
            guard header.hasPrefix("Bearer ") else {
                return error(401, "unauthenticated", "an Authorization: Bearer header with the ledger's API token is required")
            }
            // Hashes compared, so the comparison takes as long whatever the token's length.
            let given = Array(SHA256.hash(data: Array(header.dropFirst(7).utf8)))
            guard zip(given, expected).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0 else {
                return error(401, "unauthenticated", "the bearer token is not the ledger's API token")
            }
            return nil
        }
        router.get("/v1/accounts") { request, _ -> Response in
            if let refused = refusal(request) { return refused }
            return json(["accounts": try ledger.accounts(limit: 1000)])
        }
        router.get("/v1/accounts/:id") { request, context -> Response in
            if let refused = refusal(request) { return refused }
            guard let id = account(context) else { return invalidAccount(context) }
            guard let view = try ledger.account(id) else { return error(404, "not_found", "no account \(id)") }
            return json(AccountWithHeld(account: view, heldRefunds: try ledger.held(for: id)))
        }
        router.get("/v1/accounts/:id/transactions") { request, context -> Response in
            if let refused = refusal(request) { return refused }
            guard let id = account(context) else { return invalidAccount(context) }
            let parameters = request.uri.queryParameters
            var before: UInt64?
            if let cursor = parameters["cursor"] {
                guard let parsed = UInt64(String(cursor)) else { return error(400, "invalid_cursor", "cursor must be an entry sequence number") }
                before = parsed
            }
            var limit = 100
            if let text = parameters["limit"] {
                guard let parsed = Int(String(text)), (1...LedgerStore.maximumPage).contains(parsed) else {
                    return error(400, "invalid_limit", "limit must be 1 to \(LedgerStore.maximumPage)")
                }
                limit = parsed
            }
            guard try ledger.account(id) != nil else { return error(404, "not_found", "no account \(id)") }
            let page = try ledger.transactions(of: id, before: before, limit: limit)
            return json(TransactionsPage(entries: page.entries, nextCursor: page.next))
        }
        router.get("/v1/ledger/verify") { request, _ -> Response in
            if let refused = refusal(request) { return refused }
            let verification = try ledger.verify()
            return json(VerificationReply(verification), status: verification.ok ? .ok : .conflict)
        }
    }

    struct AccountWithHeld: Encodable {
        var account: AccountView
        var heldRefunds: [HeldTransfer]

        func encode(to encoder: any Encoder) throws {
            try account.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(heldRefunds, forKey: .heldRefunds)
        }

        enum Key: String, CodingKey { case heldRefunds }
    }

    struct TransactionsPage: Encodable {
        var entries: [LedgerEntry]
        var nextCursor: UInt64?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(entries, forKey: .entries)
            // null, not absent: the last page says so.
            try container.encode(nextCursor, forKey: .nextCursor)
        }

        enum Key: String, CodingKey { case entries, nextCursor }
    }

    struct VerificationReply: Encodable {
        var ok: Bool
        var verification: LedgerVerification

        init(_ verification: LedgerVerification) {
            ok = verification.ok
            self.verification = verification
        }

        func encode(to encoder: any Encoder) throws {
            try verification.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(ok, forKey: .ok)
        }

        enum Key: String, CodingKey { case ok }
    }

    private static func account(_ context: BasicRequestContext) -> AccountID? {
        guard let raw = context.parameters.get("id") else { return nil }
        return AccountID(raw.removingPercentEncoding ?? raw)
    }

    private static func invalidAccount(_ context: BasicRequestContext) -> Response {
        let raw = String((context.parameters.get("id") ?? "").prefix(64))
        return error(400, "invalid_account", "'\(raw)' is not an account id (merchant:<CUR>:<merchantId> or psp:<CUR>:<psp>)")
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(value)) ?? Data(#"{"error":{"code":"internal","message":"encoding failed"}}"#.utf8)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: Array(body) + [0x0A])))
    }

    static func error(_ status: Int, _ code: String, _ message: String) -> Response {
        json(["error": ["code": code, "message": message]], status: HTTPResponse.Status(code: status))
    }
}
