import Hummingbird
import Logging
import LogStore
import PaymentHTTP

/// What the payment API answers when a route throws instead of returning a response: a store
/// that is full or overloaded (retriable) is 503 with `Retry-After` and the API's JSON error;
/// anything else is 500 with a JSON error that names no internals (the log line has them).
/// Hummingbird's own HTTP errors (a route not found, a bad request line) pass through.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            throw error
        } catch let error as LogStoreError where error.isRetriable {
            logger.warning("request refused for now", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return PaymentAPI.response(APIReply(.storeUnavailable(reason: error.code.rawValue)))
        } catch {
            logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return PaymentAPI.response(APIReply(.internalFailure))
        }
    }
}
