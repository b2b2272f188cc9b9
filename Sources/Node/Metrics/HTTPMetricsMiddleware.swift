import Hummingbird
import Metrics
import Synchronization

/// Counts every HTTP request by method, route template and status, and times it, with
/// Prometheus names: `paynode_http_requests_total{method,route,status}` and
/// `paynode_http_request_duration_seconds{method,route}`. The route is the matched template
/// (`/v1/payment-orders/{id}`), never the raw path, so label cardinality stays bounded.
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    private let handles = HTTPMetricHandles()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let status: Int
        let response: Response
        do {
            response = try await next(request, context)
            status = Int(response.status.code)
        } catch {
            let code = (error as? any HTTPResponseError)?.status.code ?? 500
            record(request, context: context, status: Int(code), started: started)
            throw error
        }
        record(request, context: context, status: status, started: started)
        return response
    }

    private func record(_ request: Request, context: Context, status: Int, started: ContinuousClock.Instant) {
        let (requests, duration) = handles.handles(method: request.method.rawValue, endpointPath: context.endpointPath,
                                                   status: status)
        requests.increment()
        duration.record(duration: ContinuousClock.now - started)
    }
}

/// The counter and timer of each (method, route, status), made once: making a metric handle
/// looks it up in the registry under a lock and builds its label strings, which per request
/// cost more than recording the value.
final class HTTPMetricHandles: Sendable {
    private struct Key: Hashable {
        var method: String
        var endpointPath: String?
        var status: Int
    }

    private let made = Mutex<[Key: (Counter, Timer)]>([:])

    func handles(method: String, endpointPath: String?, status: Int) -> (Counter, Timer) {
        let key = Key(method: method, endpointPath: endpointPath, status: status)
        if let existing = made.withLock({ $0[key] }) { return existing }
        let route = Self.route(endpointPath)
        let handles = (Counter(label: "paynode_http_requests_total", dimensions: [("method", method), ("route", route), ("status", "\(status)")]),
                       Timer(label: "paynode_http_request_duration_seconds", dimensions: [("method", method), ("route", route)],
                             preferredDisplayUnit: .seconds))
        made.withLock { $0[key] = handles }
        return handles
    }

    /// Hummingbird writes parameters as `:id`; OpenAPI and Grafana users read `{id}`.
    static func route(_ endpointPath: String?) -> String {
        guard let endpointPath else { return "unmatched" }
        return endpointPath.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
        }.joined(separator: "/")
    }
}
