import Logging
import Tracing

/// Writes each finished span as one log line (logger `paynode.trace`): its name as the message,
/// ids, kind, duration and every attribute as metadata. With `--log-format json` these lines
/// are what a log pipeline (Loki, Elasticsearch, Vector -> an OTLP collector) turns into traces.
public struct LogSpanExporter: SpanExporter {
    let logger: Logger

    public init(logger: Logger = Logger(label: "paynode.trace")) {
        self.logger = logger
    }

    public func export(_ span: FinishedSpan) {
        var metadata: Logger.Metadata = [
            "trace_id": "\(span.traceID)", "span_id": "\(span.spanID)", "span_kind": "\(span.kind.openTelemetryName)",
            "duration_us": "\(span.durationNanoseconds / 1000)", "start_unix_nano": "\(span.startNanoseconds)",
        ]
        if let parent = span.parentSpanID { metadata["parent_span_id"] = "\(parent)" }
        if let status = span.status {
            metadata["status"] = "\(status.code)"
            if let message = status.message { metadata["status_message"] = "\(message)" }
        }
        span.attributes.forEach { key, value in metadata[key] = "\(value.text)" }
        for event in span.events where event.name == "exception" {
            metadata["exception"] = "\(event.attributes.get("exception.message")?.text ?? "")"
        }
        logger.info("\(span.name)", metadata: metadata)
    }
}
