import NIOCore

/// A response as the order pipeline needs it: the status and the body, headers dropped.
struct ParsedHTTPResponse: Sendable, Equatable {
    var status: Int
    var body: ByteBuffer
}

struct HTTPResponseParseError: Error, CustomStringConvertible {
    var description: String
}

/// Reads HTTP/1.1 responses off a connection's bytes (RFC 9112): the status line, the header
/// section (only `Content-Length` and `Transfer-Encoding` matter here), and a body framed by
/// `Content-Length`, by chunked transfer coding, or by the end of the connection. Interim 1xx
/// responses are skipped; a response to be read only whole.
///
/// Why not NIO's `HTTPResponseDecoder` with its request encoder: they were a third of the load
/// generator's CPU in the full flow (llhttp callbacks, a header list and a String per header
/// per response), CPU it takes from the nodes it measures on the same two cores. The generator
/// only sends POSTs to the payment API, so none of the HEAD or upgrade cases apply.
struct HTTPResponseParser: ByteToMessageDecoder {
    typealias InboundOut = ParsedHTTPResponse

    /// A header section larger than this is refused (the payment API's are ~150 bytes).
    static let maximumHeaderBytes = 64 << 10

    /// What one call of `parse` found at the head of the bytes.
    enum Step: Equatable {
        /// The response is not whole yet; nothing was consumed.
        case needMoreData
        /// An interim (1xx) response, consumed and skipped.
        case interim
        case response(ParsedHTTPResponse)
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        Self.deliver(try Self.parse(&buffer, atEOF: false), to: context)
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        guard buffer.readableBytes > 0 else { return .needMoreData }
        let step = try Self.parse(&buffer, atEOF: seenEOF)
        if step == .needMoreData, seenEOF { throw HTTPResponseParseError(description: "the connection ended inside a response") }
        return Self.deliver(step, to: context)
    }

    private static func deliver(_ step: Step, to context: ChannelHandlerContext) -> DecodingState {
        switch step {
        case .needMoreData: return .needMoreData
        case .interim: return .continue
        case .response(let response):
            context.fireChannelRead(wrapInboundOut(response))
            return .continue
        }
    }

    /// Consumes one whole response (or interim response) from the head of `buffer`.
    static func parse(_ buffer: inout ByteBuffer, atEOF: Bool) throws -> Step {
        let head = try buffer.withUnsafeReadableBytes { bytes in try Head(parsing: bytes) }
        guard let head else {
            if buffer.readableBytes > maximumHeaderBytes {
                throw HTTPResponseParseError(description: "no end of the header section in \(maximumHeaderBytes) bytes")
            }
            return .needMoreData
        }
        if (100..<200).contains(head.status) {
            guard head.status != 101 else { throw HTTPResponseParseError(description: "unexpected 101 Switching Protocols") }
            buffer.moveReaderIndex(forwardBy: head.length)
            return .interim
        }
        let restCount = buffer.readableBytes - head.length
        var rest = buffer.getSlice(at: buffer.readerIndex + head.length, length: restCount)!
        var body = ByteBuffer()
        if head.status != 204, head.status != 304 {
            switch head.framing {
            case .chunked:
                guard let chunked = try dechunk(&rest) else { return .needMoreData }
                body = chunked
            case .length(let length):
                guard let slice = rest.readSlice(length: length) else { return .needMoreData }
                body = slice
            case .untilClose:
                guard atEOF else { return .needMoreData }
                body = rest.readSlice(length: rest.readableBytes)!
            }
        }
        buffer.moveReaderIndex(forwardBy: head.length + restCount - rest.readableBytes)
        return .response(ParsedHTTPResponse(status: head.status, body: body))
    }

    /// The body of a chunked message from `buffer` (its trailers skipped), or nil if incomplete.
    private static func dechunk(_ buffer: inout ByteBuffer) throws -> ByteBuffer? {
        var body = ByteBuffer()
        while true {
            guard let line = readLine(&buffer) else { return nil }
            let sizeField = line.prefix { $0 != UInt8(ascii: ";") }  // a chunk extension follows ';'
            guard let size = number(trimmed(sizeField), radix: 16) else {
                throw HTTPResponseParseError(description: "invalid chunk size \(String(decoding: line, as: UTF8.self).debugDescription)")
            }
            if size == 0 {
                while true {  // trailer fields, then the empty line
                    guard let trailer = readLine(&buffer) else { return nil }
                    if trailer.isEmpty { return body }
                }
            }
            guard var chunk = buffer.readSlice(length: size), let end = readLine(&buffer) else { return nil }
            guard end.isEmpty else { throw HTTPResponseParseError(description: "a chunk of \(size) bytes is not followed by CRLF") }
            body.writeBuffer(&chunk)
        }
    }

    private static func readLine(_ buffer: inout ByteBuffer) -> [UInt8]? {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        var line = buffer.readBytes(length: newline - buffer.readerIndex + 1)!
        line.removeLast()
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        return line
    }

    /// Digits only in `radix` (no sign, no spaces), few enough not to overflow.
    static func number(_ digits: some Collection<UInt8>, radix: Int) -> Int? {
        guard !digits.isEmpty, digits.count <= (radix == 16 ? 15 : 18) else { return nil }
        var value = 0
        for digit in digits {
            let nibble: Int
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = Int(digit - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: nibble = Int(digit - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: nibble = Int(digit - UInt8(ascii: "A")) + 10
            default: return nil
            }
            value = value * radix + nibble
        }
        return value
    }

    /// Without the spaces and tabs around it.
    static func trimmed<Bytes: BidirectionalCollection<UInt8>>(_ value: Bytes) -> Bytes.SubSequence {
        var value = value[...]
        while let first = value.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { value = value.dropFirst() }
        while let last = value.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { value = value.dropLast() }
        return value
    }

    enum Framing: Equatable {
        case length(Int)
        case chunked
        case untilClose
    }

    /// The status line and header section at the start of `bytes`.
    struct Head {
        var status: Int
        var framing: Framing
        /// Bytes up to and including the empty line that ends the header section.
        var length: Int

        /// nil while the header section has not ended. Only the two framing headers' values
        /// are read; every other line is only checked for its colon.
        init?(parsing bytes: UnsafeRawBufferPointer) throws {
            guard let end = Self.endOfHeaderSection(bytes) else { return nil }
            length = end
            var lines = LineReader(bytes: bytes, end: end)
            let statusLine = lines.next()!
            // "HTTP/1.x SSS reason"
            guard statusLine.count >= 12, statusLine.starts(with: "HTTP/1.".utf8), statusLine[statusLine.startIndex + 8] == UInt8(ascii: " "),
                  let status = HTTPResponseParser.number(statusLine[(statusLine.startIndex + 9)..<(statusLine.startIndex + 12)], radix: 10), status >= 100 else {
                throw HTTPResponseParseError(description: "invalid status line \(String(decoding: statusLine, as: UTF8.self).debugDescription)")
            }
            self.status = status
            var framing = Framing.untilClose
            while let line = lines.next() {
                guard !line.isEmpty else { break }
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                    throw HTTPResponseParseError(description: "invalid header line \(String(decoding: line, as: UTF8.self).debugDescription)")
                }
                let name = line[..<colon]
                if Self.equalsIgnoringCase(name, "transfer-encoding") {
                    let value = HTTPResponseParser.trimmed(line[(colon + 1)...])
                    guard String(decoding: value, as: UTF8.self).lowercased().hasSuffix("chunked") else {
                        throw HTTPResponseParseError(description: "unsupported Transfer-Encoding \(String(decoding: value, as: UTF8.self))")
                    }
                    framing = .chunked
                } else if Self.equalsIgnoringCase(name, "content-length"), framing != .chunked {
                    let value = HTTPResponseParser.trimmed(line[(colon + 1)...])
                    guard let length = HTTPResponseParser.number(value, radix: 10) else {
                        throw HTTPResponseParseError(description: "invalid Content-Length \(String(decoding: value, as: UTF8.self).debugDescription)")
                    }
                    if case .length(let earlier) = framing, earlier != length {
                        throw HTTPResponseParseError(description: "conflicting Content-Length values \(earlier) and \(length)")
                    }
                    framing = .length(length)
                }
            }
            self.framing = framing
        }

        /// The lines of the header section, without their CRLF (or LF).
        private struct LineReader {
            let bytes: UnsafeRawBufferPointer
            let end: Int
            var position = 0

            mutating func next() -> Slice<UnsafeRawBufferPointer>? {
                guard position < end, let newline = bytes[position..<end].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
                var line = bytes[position..<newline]
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                position = newline + 1
                return line
            }
        }

        /// The offset just past "\r\n\r\n" (or "\n\n"), if the bytes hold it.
        private static func endOfHeaderSection(_ bytes: UnsafeRawBufferPointer) -> Int? {
            var index = 0
            while let newline = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) {
                let next = newline + 1
                if next < bytes.count, bytes[next] == UInt8(ascii: "\n") { return next + 1 }
                if next + 1 < bytes.count, bytes[next] == UInt8(ascii: "\r"), bytes[next + 1] == UInt8(ascii: "\n") { return next + 2 }
                index = next
            }
            return nil
        }

        private static func equalsIgnoringCase(_ bytes: some Collection<UInt8>, _ lowercase: StaticString) -> Bool {
            guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
            return zip(bytes, UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount))
                .allSatisfy { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) ? $0 | 0x20 == $1 : $0 == $1 }
        }
    }
}
