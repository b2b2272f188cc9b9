import Logging

/// Escapes what must never reach a log line raw: a client-supplied value (an id from a URL, a
/// header, a record key) containing a line feed could otherwise forge a whole log line, and an
/// ESC sequence could rewrite the operator's terminal.
///
/// Escaped: the backslash itself (so an escape in the output is unambiguous), every C0 control
/// (U+0000-U+001F: `\n`, `\r`, `\t` by name, the others as `\u{1B}`), DEL, the C1 controls
/// (U+0080-U+009F, which include NEL) and the Unicode line and paragraph separators (U+2028,
/// U+2029). Everything else, other non-ASCII text included, is kept.
public enum LogEscaping {
    public static func escape(_ text: String) -> String {
        // Fast path: most lines have nothing to escape, and a byte scan decides it. Every
        // scalar escaped is either ASCII or starts with the lead byte 0xC2 (C1) or 0xE2
        // (U+2028/9); other strings are returned as they are.
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "\\") || $0 == 0xC2 || $0 == 0xE2 }) else {
            return text
        }
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x5C: escaped.append(contentsOf: #"\\"#.unicodeScalars)
            case 0x0A: escaped.append(contentsOf: #"\n"#.unicodeScalars)
            case 0x0D: escaped.append(contentsOf: #"\r"#.unicodeScalars)
            case 0x09: escaped.append(contentsOf: #"\t"#.unicodeScalars)
            case 0x00..<0x20, 0x7F, 0x80...0x9F, 0x2028, 0x2029:
                escaped.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            default:
                escaped.append(scalar)
            }
        }
        return String(escaped)
    }

    /// Metadata as plain strings, keys and values escaped (nested values by their description,
    /// which is what a text line shows of them anyway).
    public static func escape(_ metadata: Logger.Metadata) -> Logger.Metadata {
        var result = Logger.Metadata(minimumCapacity: metadata.count)
        for (key, value) in metadata {
            result[escape(key)] = .string(escape(value.description))
        }
        return result
    }
}

/// Wraps a log handler (the node's text or JSON one) so that every line it writes has its
/// message and every metadata key and value escaped (`LogEscaping`), in one place whatever the
/// logger: the handler's own metadata, the metadata provider's (trace ids) and the event's are
/// merged here, escaped, and handed on as the event's only metadata. An attached error becomes
/// `error.message`/`error.type` metadata first, as `StreamLogHandler` would show it, so its
/// description is escaped too.
public struct EscapingLogHandler<Inner: LogHandler>: LogHandler {
    public var inner: Inner
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    /// `inner` should have no metadata provider of its own: this handler applies it.
    public init(_ inner: Inner, metadataProvider: Logger.MetadataProvider?) {
        self.inner = inner
        self.metadataProvider = metadataProvider
    }

    public var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        inner.log(event: Self.escaped(event, handlerMetadata: metadata, provided: metadataProvider?.get()))
    }

    /// The event as the inner handler gets it (separate for tests).
    public static func escaped(_ event: LogEvent, handlerMetadata: Logger.Metadata, provided: Logger.Metadata?) -> LogEvent {
        var merged = handlerMetadata
        if let provided { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        if let error = event.error {
            merged["error.message"] = "\(error)"
            merged["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        var escaped = event
        escaped.error = nil
        escaped.message = Logger.Message(stringLiteral: LogEscaping.escape(event.message.description))
        escaped.metadata = merged.isEmpty ? nil : LogEscaping.escape(merged)
        return escaped
    }
}
