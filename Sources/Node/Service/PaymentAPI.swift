import Hummingbird
import HTTPTypes
import Logging
import NIOCore
import PaymentService
import Payments
import Tracing

/// The payment API routes (shared notes, contract.md), added to the node's HTTP router.
enum PaymentAPI {
    static let maximumBodyBytes = 64 << 10
    static let ordersPath = "/v1/payment-orders"

    /// `historyEntries`: the most history entries one order GET shows (the rest by
    /// `?historyCursor=`).
    /// `gate` decides every request (API key, rate limit, scope) before its route runs.
    static func register(on router: Router<BasicRequestContext>, service: PaymentService, gate: APIGate,
                         historyEntries: Int = PaymentService.defaultHistoryPageEntries) {
        // A server span per API request (OpenTelemetry HTTP conventions), continuing the
        // caller's `traceparent`; an order's records then continue this span's trace. Health
        // and metrics routes stay untraced. With tracing off (the default) the middleware would
        // only build attributes nobody records (3% of the service's CPU at full load); the
        // records still continue the caller's `traceparent` (see `createOrder`).
        let orders = router.group(RouterPath(ordersPath))
        orders.add(middleware: APIErrorMiddleware(logger: Logger(label: "paynode.http")))
        if !(InstrumentationSystem.tracer is NoOpTracer) { orders.add(middleware: TracingMiddleware()) }
        orders.post { request, _ -> Response in
            let merchant: String?
            let prefix: String?
            switch gate.admit(request, needs: .ordersWrite) {
            case .refused(let response): return response
            case .allowed(let scope, let key): (merchant, prefix) = (scope, key)
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maximumBodyBytes)
            } catch {
                return json(413, #"{"error":{"code":"body_too_large","message":"the body exceeds \#(maximumBodyBytes) bytes"}}"#)
            }
            let result = try await service.createOrder(body: Array(body.readableBytesView),
                                                       idempotencyKey: request.headers[idempotencyKey],
                                                       traceparent: request.headers[traceparent], merchant: merchant)
            if result.status == 403, let prefix { gate.authenticator?.count(.merchant, prefix: prefix) }
            var response = json(result.status, result.body)
            if result.replayed { response.headers[replayed] = "true" }
            return response
        }
        orders.get(":id") { request, context -> Response in
            let merchant: String?
            switch gate.admit(request, needs: .ordersRead) {
            case .refused(let response): return response
            case .allowed(let scope, _): merchant = scope
            }
            let id = context.parameters.get("id") ?? ""
            var historyCursor = 0
            if let text = request.uri.queryParameters["historyCursor"].map(String.init) {
                guard let parsed = Int(text), parsed >= 0 else {
                    return error(400, "invalid_history_cursor", "historyCursor must be a non-negative integer (historyNextCursor of the previous page)")
                }
                historyCursor = parsed
            }
            guard let order = try service.order(id, historyCursor: historyCursor, historyLimit: historyEntries, merchant: merchant) else {
                return notFound(id)
            }
            return json(200, order)
        }
        orders.get(":id/audit") { request, context -> Response in
            let merchant: String?
            switch gate.admit(request, needs: .ordersRead) {
            case .refused(let response): return response
            case .allowed(let scope, _): merchant = scope
            }
            let id = context.parameters.get("id") ?? ""
            var cursor: UInt64 = 0
            if let text = request.uri.queryParameters["cursor"].map(String.init) {
                guard let parsed = UInt64(text) else {
                    return error(400, "invalid_cursor", "cursor must be a non-negative integer (nextCursor of the previous page)")
                }
                cursor = parsed
            }
            guard let audit = try service.audit(id, cursor: cursor, limit: historyEntries, merchant: merchant) else { return notFound(id) }
            return json(200, audit)
        }
        orders.get { request, _ -> Response in
            let merchant: String?
            switch gate.admit(request, needs: .ordersRead) {
            case .refused(let response): return response
            case .allowed(let scope, _): merchant = scope
            }
            let query = request.uri.queryParameters
            var status: PaymentStatus?
            if let text = query["status"].map(String.init) {
                guard let parsed = PaymentStatus(rawValue: text) else {
                    return json(400, #"{"error":{"code":"invalid_status","message":"status must be PENDING, SUCCESSFUL or FAILED"}}"#)
                }
                status = parsed
            }
            var limit = 50
            if let text = query["limit"].map(String.init) {
                guard let parsed = Int(text), (1...500).contains(parsed) else {
                    return json(400, #"{"error":{"code":"invalid_limit","message":"limit must be 1 to 500"}}"#)
                }
                limit = parsed
            }
            let cursor = query["cursor"].map(String.init)
            if let cursor, PaymentOrderID(cursor) == nil {
                return json(400, #"{"error":{"code":"invalid_cursor","message":"cursor must be a payment order id"}}"#)
            }
            return json(200, try service.listOrders(status: status, limit: limit, cursor: cursor, merchant: merchant))
        }
    }

    /// Order creations commute with each other unless they carry the same idempotency key:
    /// each writes only its own order and key, and whichever commits first is the first for
    /// its key. So on a pipelined connection they run side by side (one group commit for
    /// all of them), keyed by their idempotency key; every other request waits for the ones
    /// before it (`PipelineSchedule`).
    @Sendable static func overlapKey(_ head: HTTPRequest) -> String? {
        guard head.method == .post, head.path == ordersPath, let key = head.headerFields[idempotencyKey] else { return nil }
        return key
    }

    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let traceparent = HTTPField.Name("traceparent")!
    static let replayed = HTTPField.Name("Idempotent-Replayed")!

    static func error(_ status: Int, _ code: String, _ message: String) -> Response {
        json(status, PaymentService.errorBody(code: code, message: message))
    }

    /// The id comes from the path as the client sent it: JSON-escaped in the message (never
    /// reflected raw, where a quote or control character would break the body) and cut to
    /// what an id could be (a valid one is 36 characters).
    static func notFound(_ id: String) -> Response {
        let shown = id.unicodeScalars.count > maximumEchoedIdScalars
            ? String(String.UnicodeScalarView(id.unicodeScalars.prefix(maximumEchoedIdScalars))) + "..." : id
        return error(404, "not_found", "no payment order \(shown)")
    }

    static let maximumEchoedIdScalars = 64

    static func json(_ status: Int, _ body: String) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: body + "\n")))
    }
}
