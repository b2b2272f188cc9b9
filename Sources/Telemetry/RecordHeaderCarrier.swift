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
        headers.replaceHeader(key, with: Array(value.utf8))
    }
}

extension Array where Element == RecordHeader {
    /// Sets header `key` to `value`, dropping any earlier value of it.
    public mutating func replaceHeader(_ key: String, with value: [UInt8]) {
        removeAll { $0.key == key }
        append(RecordHeader(key: key, value: value))
    }
}
