import Hummingbird
import HTTPTypes
import Logging
import NIOCore
import PaymentHTTP
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
            case .refused(let error): return response(APIReply(error))
            case .allowed(let scope, let key): (merchant, prefix) = (scope, key)
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maximumBodyBytes)
            } catch {
                return response(APIReply(.bodyTooLarge(maximumBytes: maximumBodyBytes)))
            }
            let outcome = try await service.createOrder(body: Array(body.readableBytesView),
                                                        idempotencyKey: request.headers[idempotencyKey],
                                                        traceparent: request.headers[traceparent], merchant: merchant)
            if case .merchantForbidden = outcome, let prefix { gate.authenticator?.count(.merchant, prefix: prefix) }
            return response(APIReply(creation: outcome))
        }
        orders.post(":id/refunds") { request, context -> Response in
            let merchant: String?
            switch gate.admit(request, needs: .ordersWrite) {
            case .refused(let error): return response(APIReply(error))
            case .allowed(let scope, _): merchant = scope
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maximumBodyBytes)
            } catch {
                return response(APIReply(.bodyTooLarge(maximumBytes: maximumBodyBytes)))
            }
            let id = context.parameters.get("id") ?? ""
            let outcome = try await service.createRefund(order: id, body: Array(body.readableBytesView),
                                                         idempotencyKey: request.headers[idempotencyKey],
                                                         traceparent: request.headers[traceparent], merchant: merchant)
            return response(APIReply(refund: outcome, id: id))
        }
        orders.get(":id") { request, context -> Response in
            let merchant: String?
            switch gate.admit(request, needs: .ordersRead) {
            case .refused(let error): return response(APIReply(error))
            case .allowed(let scope, _): merchant = scope
            }
            let id = context.parameters.get("id") ?? ""
            let historyCursor: Int
            do throws(PaymentRequestError) {
                historyCursor = try OrderPageCursor.history(request.uri.queryParameters["historyCursor"].map(String.init))
            } catch {
                return response(APIReply(.invalid(error)))
            }
            return response(APIReply(try service.order(id, historyCursor: historyCursor, historyLimit: historyEntries, merchant: merchant),
                                     id: id))
        }
        orders.get(":id/audit") { request, context -> Response in
            let merchant: String?
            switch gate.admit(request, needs: .ordersRead) {
            case .refused(let error): return response(APIReply(error))
            case .allowed(let scope, _): merchant = scope
            }
            let id = context.parameters.get("id") ?? ""
            let cursor: UInt64
            do throws(PaymentRequestError) {
                cursor = try OrderPageCursor.audit(request.uri.queryParameters["cursor"].map(String.init))
            } catch {
                return response(APIReply(.invalid(error)))
            }
            return response(APIReply(try service.audit(id, cursor: cursor, limit: historyEntries, merchant: merchant), id: id))
        }
        orders.get { request, _ -> Response in
            let merchant: String?
            switch gate.admit(request, needs: .ordersRead) {
            case .refused(let error): return response(APIReply(error))
            case .allowed(let scope, _): merchant = scope
            }
            let parameters = request.uri.queryParameters
            let query: OrderListQuery
            do throws(PaymentRequestError) {
                query = try OrderListQuery.parse(status: parameters["status"].map(String.init), limit: parameters["limit"].map(String.init),
                                                 cursor: parameters["cursor"].map(String.init),
                                                 needsAttention: parameters["needsAttention"].map(String.init))
            } catch {
                return response(APIReply(.invalid(error)))
            }
            return response(.ok(try service.listOrders(query, merchant: merchant)))
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

    /// The reply as the server sends it: JSON, the body ending with a newline, the reply's own
    /// headers after Content-Type and Content-Length.
    static func response(_ reply: APIReply) -> Response {
        var response = Response(status: .init(code: reply.status), headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: reply.body + "\n")))
        response.headers.append(contentsOf: reply.headers)
        return response
    }
}
