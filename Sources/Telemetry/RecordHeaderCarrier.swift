import Instrumentation
import Protocol

/// Reads trace context from Kafka record headers (`traceparent`, `tracestate`).
public struct RecordHeadersExtractor: Extractor {
    public init() {}

    public func extract(key: String, from headers: [RecordHeader]) -> String? {
        headers.last { $0.key == key }?.value.map { String(decoding: $0, as: UTF8.self) }
    }
}

/// Writes trace context into Kafka record headers, replacing an earlier value of the same key
/// so a record never carries two parents.
public struct RecordHeadersInjector: Injector {
    public init() {}

    public func inject(_ value: String, forKey key: String, into headers: inout [RecordHeader]) {
        headers.removeAll { $0.key == key }
        headers.append(RecordHeader(key: key, value: Array(value.utf8)))
    }
}
