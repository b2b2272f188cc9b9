import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One HTTP/1.1 request on its own connection, over TLS when given a context: what `paynode
/// dev`'s demo needs to reach an HTTPS API signed by the development CA (Foundation's URLSession
/// on Linux cannot be told to trust a CA of our own).
enum OneShotHTTPClient {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The status and body; a body larger than `maximumBodyBytes` is refused.
    static func send(method: HTTPMethod, host: String, port: Int, path: String, body: String?, headers: [String: String],
                     tls: NIOSSLContext?, maximumBodyBytes: Int = 1 << 20) async throws -> (Int, Data) {
        let serverHostname = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
            head.headers.add(name: "Host", value: "\(host):\(port)")
            head.headers.add(name: "Connection", value: "close")
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            if let body { head.headers.add(name: "Content-Length", value: "\(body.utf8.count)") }
            // One write: the server may answer and close as soon as the body is in, and a
            // separate write of the end would then fail on the closed channel.
            var parts: [HTTPClientRequestPart] = [.head(head)]
            if let body { parts.append(.body(.byteBuffer(ByteBuffer(string: body)))) }
            parts.append(.end(nil))
            try await outbound.write(contentsOf: parts)
            var status = 0
            var collected = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let response):
                    status = Int(response.status.code)
                case .body(var chunk):
                    guard collected.readableBytes + chunk.readableBytes <= maximumBodyBytes else {
                        throw Failure(description: "the response to \(method) \(path) is larger than \(maximumBodyBytes) bytes")
                    }
                    collected.writeBuffer(&chunk)
                case .end:
                    return (status, Data(collected.readableBytesView))
                }
            }
            throw Failure(description: "the connection closed before the response to \(method) \(path) was complete")
        }
    }
}
