import Protocol
import Synchronization
import Telemetry
import Testing
import Tracing
import W3CTraceContext

/// Collects finished spans in memory.
final class CollectingExporter: SpanExporter {
    let spans = Mutex<[FinishedSpan]>([])
    func export(_ span: FinishedSpan) { spans.withLock { $0.append(span) } }
    var finished: [FinishedSpan] { spans.withLock { $0 } }
}

@Suite("PaynodeTracer")
struct PaynodeTracerTests {
    let exporter = CollectingExporter()
    var tracer: PaynodeTracer { PaynodeTracer(exporter: exporter) }

    @Test func aSpanWithoutParentStartsASampledTrace() {
        let span = tracer.startSpan("root", context: .topLevel, ofKind: .server, at: DefaultTracerClock.now,
                                    function: #function, file: #fileID, line: #line)
        span.end()
        let finished = try! #require(exporter.finished.first)
        #expect(finished.parentSpanID == nil)
        #expect(finished.name == "root")
        #expect(span.context.traceContext?.flags.contains(.sampled) == true)
        #expect(finished.traceID == span.context.traceContext?.traceID)
    }

    @Test func contextTravelsThroughRecordHeadersAsTraceparent() throws {
        let tracer = self.tracer
        let producer = tracer.startSpan("send payment-orders", context: .topLevel, ofKind: .producer, at: DefaultTracerClock.now,
                                        function: #function, file: #fileID, line: #line)
        var headers = [RecordHeader(key: "paynode-schema", value: Array("x".utf8))]
        tracer.inject(producer.context, into: &headers, using: RecordHeadersInjector())
        tracer.inject(producer.context, into: &headers, using: RecordHeadersInjector())  // replaces, never duplicates
        #expect(headers.filter { $0.key == "traceparent" }.count == 1)
        let header = try #require(RecordHeadersExtractor().extract(key: "traceparent", from: headers))
        let own = try #require(producer.context.traceContext)
        #expect(header == "00-\(own.traceID)-\(own.spanID)-01")

        var consumerContext = ServiceContext.topLevel
        tracer.extract(headers, into: &consumerContext, using: RecordHeadersExtractor())
        let consumer = tracer.startSpan("process payment-orders", context: consumerContext, ofKind: .consumer,
                                        at: DefaultTracerClock.now, function: #function, file: #fileID, line: #line)
        consumer.end()
        producer.end()
        let spans = exporter.finished
        #expect(spans.count == 2)
        let finishedConsumer = try #require(spans.first { $0.kind == .consumer })
        #expect(finishedConsumer.traceID == own.traceID)
        #expect(finishedConsumer.parentSpanID == own.spanID)
        #expect(finishedConsumer.spanID != own.spanID)
    }

    @Test func malformedTraceparentStartsANewTraceAndUnsampledTracesAreNotExported() {
        for bad in ["", "garbage", "00-zz-b7ad6b7169203331-01", "00-00000000000000000000000000000000-b7ad6b7169203331-01"] {
            let context = MessagingSpans.context(of: [RecordHeader(key: "traceparent", value: Array(bad.utf8))])
            #expect(context.traceContext == nil, "\(bad)")
        }
        let unsampled = MessagingSpans.context(of: [RecordHeader(key: "traceparent",
                                                                 value: Array("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00".utf8))])
        let span = tracer.startSpan("process", context: unsampled, ofKind: .consumer, at: DefaultTracerClock.now,
                                    function: #function, file: #fileID, line: #line)
        #expect(!span.isRecording)
        #expect(span.context.traceContext?.traceIDHex == "0af7651916cd43dd8448eb211c80319c")
        span.end()
        #expect(exporter.finished.isEmpty)
    }

    @Test func messagingAttributesFollowOpenTelemetryNames() {
        let attributes = MessagingSpans.attributes(.process, topic: "psp-result-updates", partition: 2, offset: 41,
                                                   key: "k", group: "payment-service")
        #expect(MessagingSpans.name(.process, topic: "psp-result-updates") == "process psp-result-updates")
        #expect(attributes.get("messaging.system")?.text == "kafka")
        #expect(attributes.get("messaging.operation.type")?.text == "process")
        #expect(attributes.get("messaging.destination.name")?.text == "psp-result-updates")
        #expect(attributes.get("messaging.destination.partition.id")?.text == "2")
        #expect(attributes.get("messaging.kafka.offset") == .int64(41))
        #expect(attributes.get("messaging.consumer.group.name")?.text == "payment-service")
    }

    @Test func anEndedSpanIsExportedOnceAndIgnoresLaterChanges() {
        let span = tracer.startSpan("once", context: .topLevel, ofKind: .internal, at: DefaultTracerClock.now,
                                    function: #function, file: #fileID, line: #line)
        span.attributes["a"] = "1"
        span.end()
        span.attributes["a"] = "2"
        span.end()
        #expect(exporter.finished.count == 1)
        #expect(exporter.finished.first?.attributes.get("a")?.text == "1")
    }

    @Test func traceparentBytesSpellTheHeaderAsTheLibraryDoes() throws {
        for flags: TraceFlags in [.sampled, []] {
            let context = TraceContext(traceID: .random(), spanID: .random(), flags: flags, state: TraceState())
            #expect(context.traceParentBytes == Array(context.traceParentHeaderValue.utf8))
            #expect(try TraceContext(traceParentHeaderValue: String(decoding: context.traceParentBytes, as: UTF8.self)) == context)
        }
        var headers = [RecordHeader(key: "traceparent", value: Array("00-old".utf8)), RecordHeader(key: "schema", value: [1])]
        let context = TraceContext.newRoot()
        headers.setTraceContext(context)
        #expect(headers.filter { $0.key == "traceparent" }.map(\.value) == [context.traceParentBytes])
        #expect(headers.contains { $0.key == "schema" })
    }

    @Test func generatedIdsDoNotRepeatAndAreValid() throws {
        var spans = Set<SpanID>()
        var traces = Set<TraceID>()
        for _ in 0..<50_000 {
            spans.insert(TraceIDGenerator.spanID())
            traces.insert(TraceIDGenerator.traceID())
        }
        #expect(spans.count == 50_000 && traces.count == 50_000)
        #expect(!spans.contains(.null) && !traces.contains(.null))
        let root = TraceContext.newRoot()
        #expect(try TraceContext(traceParentHeaderValue: root.traceParentHeaderValue) == root)
    }

    @Test func traceparentBytesParseExactlyAsTheLibraryParsesTheString() {
        let valid = TraceContext.newRoot().traceParentHeaderValue
        var samples = [valid, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
                       valid.uppercased(), "01" + valid.dropFirst(2), valid + "-", String(valid.dropLast()),
                       "00-00000000000000000000000000000000-b7ad6b7169203331-01", "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
                       "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
                       "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0x", ""]
        // Every single-byte change of a valid value.
        for index in 0..<55 {
            var bytes = Array(valid.utf8)
            bytes[index] = bytes[index] == UInt8(ascii: "f") ? UInt8(ascii: "G") : UInt8(ascii: "f")
            samples.append(String(decoding: bytes, as: UTF8.self))
        }
        for sample in samples {
            for state: String? in [nil, "", "vendor=value", "bad state ==="] {
                let expected = try? TraceContext(traceParentHeaderValue: sample, traceStateHeaderValue: state)
                #expect(TraceContext(traceparentBytes: Array(sample.utf8), tracestate: state) == expected, "\(sample) \(state ?? "nil")")
            }
        }
    }
}
