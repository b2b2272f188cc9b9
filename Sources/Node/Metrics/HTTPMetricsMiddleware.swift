import Hummingbird
import Metrics

/// Counts every HTTP request by method, route template and status, and times it, with
/// Prometheus names: `paynode_http_requests_total{method,route,status}` and
/// `paynode_http_request_duration_seconds{method,route}`. The route is the matched template
/// (`/v1/payment-orders/{id}`), never the raw path, so label cardinality stays bounded.
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
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
        let route = Self.route(context.endpointPath)
        let method = request.method.rawValue
        Counter(label: "paynode_http_requests_total", dimensions: [("method", method), ("route", route), ("status", "\(status)")])
            .increment()
        Timer(label: "paynode_http_request_duration_seconds", dimensions: [("method", method), ("route", route)],
              preferredDisplayUnit: .seconds)
            .record(duration: ContinuousClock.now - started)
    }

    /// Hummingbird writes parameters as `:id`; OpenAPI and Grafana users read `{id}`.
    static func route(_ endpointPath: String?) -> String {
        guard let endpointPath else { return "unmatched" }
        return endpointPath.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
        }.joined(separator: "/")
    }
}
