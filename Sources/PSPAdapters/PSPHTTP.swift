import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Payments

/// One HTTPS exchange with a PSP: the request, a deadline, and a bounded answer. A call that
/// never got an answer (no connection, a timeout, a body over the bound) is a transient error:
/// the caller's idempotency key makes repeating it safe.
struct PSPHTTP: Sendable {
    struct Response: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
    }

    let client: HTTPClient
    let psp: String
    let baseURL: String
    let timeout: Duration
    /// The most of an answer read; PSP answers are a few KiB.
    let maximumResponseBytes: Int

    func send(_ method: HTTPMethod, _ path: String, headers: [(String, String)], body: [UInt8]? = nil) async throws -> Response {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000
                                                                                   + timeout.components.attoseconds / 1_000_000_000))
            let bytes = try await response.body.collect(upTo: maximumResponseBytes)
            return Response(status: Int(response.status.code), headers: response.headers, body: Array(bytes.readableBytesView))
        } catch let error as PspTransientError {
            throw error
        } catch {
            throw PspTransientError(psp: psp, message: "\(method) \(path): \(error)")
        }
    }

    /// `baseURL` without a trailing slash, checked to be an http(s) URL.
    static func normalised(baseURL: String) throws -> String {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "https" || scheme == "http",
              parsed.host != nil else {
            throw PSPConfigurationError("\(baseURL) is not an http(s) URL")
        }
        return url
    }
}

public struct PSPConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
