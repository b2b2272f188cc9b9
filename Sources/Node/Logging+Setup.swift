import ArgumentParser
import Foundation
import Logging
import Telemetry
import Tracing

enum TraceExport: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// Spans still propagate W3C trace context through every record; none are written.
    case none
    /// Each finished span is one log line (logger `paynode.trace`).
    case log
}

enum LogFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text
    case json
}

struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (env: PAYNODE_LOG_LEVEL).")
    var level: String?

    @Option(name: .customLong("log-format"), help: "text or json (env: PAYNODE_LOG_FORMAT).")
    var format: LogFormat?

    @Option(name: .customLong("trace-export"), help: "Where finished spans go: none or log (env: PAYNODE_TRACE_EXPORT; default none).")
    var traceExport: TraceExport?

    func bootstrap() throws {
        let levelName = EnvironmentOption.string(level, "PAYNODE_LOG_LEVEL") ?? "info"
        guard let logLevel = Logger.Level(rawValue: levelName) else {
            throw ValidationError("unknown log level '\(levelName)'")
        }
        let formatName = EnvironmentOption.string(format?.rawValue, "PAYNODE_LOG_FORMAT") ?? "text"
        guard let logFormat = LogFormat(rawValue: formatName) else {
            throw ValidationError("unknown log format '\(formatName)'")
        }
        let exportName = EnvironmentOption.string(traceExport?.rawValue, "PAYNODE_TRACE_EXPORT") ?? "none"
        guard let export = TraceExport(rawValue: exportName) else {
            throw ValidationError("unknown trace export '\(exportName)' (none or log)")
        }
        // Lines logged inside a span (an HTTP request, a record being processed) carry its ids.
        let traceMetadata = Logger.MetadataProvider {
            guard let traceContext = ServiceContext.current?.traceContext else { return [:] }
            return ["trace_id": "\(traceContext.traceID)", "span_id": "\(traceContext.spanID)"]
        }
        // Every line goes through `EscapingLogHandler`, the one place control characters in
        // messages and metadata (client-supplied ids, keys, headers) are escaped, so no value
        // can forge a log line; it also applies the metadata provider.
        LoggingSystem.bootstrap({ label, provider in
            var handler: any LogHandler = logFormat == .json
                ? EscapingLogHandler(JSONLogHandler(label: label), metadataProvider: provider)
                : EscapingLogHandler(StreamLogHandler.standardError(label: label, metadataProvider: nil), metadataProvider: provider)
            handler.logLevel = logLevel
            return handler
        }, metadataProvider: traceMetadata)
        if export == .log {
            InstrumentationSystem.bootstrap(PaynodeTracer(exporter: LogSpanExporter()))
        }
    }
}

/// One JSON object per line on stderr: timestamp, level, label, message and metadata fields
/// (trace_id, paymentOrderId, ... as their own keys), for log shippers.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields: [String: String] = [:]
        for (key, value) in metadata { fields[key] = "\(value)" }
        if let provided = metadataProvider?.get() { for (key, value) in provided { fields[key] = "\(value)" } }
        if let extra = event.metadata { for (key, value) in extra { fields[key] = "\(value)" } }
        fields["timestamp"] = Date().ISO8601Format()
        fields["level"] = event.level.rawValue
        fields["logger"] = label
        fields["message"] = "\(event.message)"
        guard let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) else { return }
        FileHandle.standardError.write(data + Data("\n".utf8))
    }
}
