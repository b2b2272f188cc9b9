#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Protocol
import SwiftProtobuf

// paynode's shared event schema on the wire: a record's value is one message of
// schemas/paynode/events/v1/events.proto (protobuf binary), and two headers name it:
//
//   paynode-schema:         paynode.events.v1.PspResultUpdateEvent   (full protobuf message name)
//   paynode-schema-version: 1                                        (major version, decimal)
//
// A reader refuses a record of another major version (a breaking change lives in a new package,
// paynode.events.v2, written with version 2) and accepts a same-major record that carries fields
// it does not know: protobuf skips them into `unknownFields` and writes them back out unchanged.
// See schemas/README.md.

/// The header names and this build's schema version.
public enum EventSchema {
    /// Header with the full protobuf message name, e.g. `paynode.events.v1.PspResultUpdateEvent`.
    public static let schemaHeader = "paynode-schema"
    /// Header with the schema's major version as a decimal integer, e.g. `1`.
    public static let versionHeader = "paynode-schema-version"
    /// The protobuf package this build reads and writes.
    public static let package = "paynode.events.v1"
    /// The major version this build reads and writes.
    public static let majorVersion = 1
}

/// A top-level message of the shared event schema: what a record's value may hold.
public protocol PaynodeEvent: SwiftProtobuf.Message {}

extension Paynode_Events_V1_PspResultUpdateEvent: PaynodeEvent {
    /// A result with each optional field set only when present (an absent field and an empty
    /// one differ on the wire: `hasPspReference`).
    public init(paymentOrderId: String, status: Paynode_Events_V1_PspStatus, pspReference: String?, eventTimeMilliseconds: Int64,
                errorCode: String?, errorMessage: String?, psp: String, pspEventId: String? = nil) {
        self.init()
        paymentOrderID = paymentOrderId
        pspStatus = status
        if let pspReference { self.pspReference = pspReference }
        if let errorCode { self.errorCode = errorCode }
        if let errorMessage { self.errorMessage = errorMessage }
        eventTimeUnixMs = eventTimeMilliseconds
        self.psp = psp
        if let pspEventId { pspEventID = pspEventId }
    }
}
extension Paynode_Events_V1_PaymentOrderCreated: PaynodeEvent {}
extension Paynode_Events_V1_PaymentSucceeded: PaynodeEvent {}
extension Paynode_Events_V1_PaymentFailed: PaynodeEvent {}
extension Paynode_Events_V1_RefundRequested: PaynodeEvent {}
extension Paynode_Events_V1_PspRefundResultEvent: PaynodeEvent {}
extension Paynode_Events_V1_PaymentRefunded: PaynodeEvent {}

/// Why a record's schema headers or value were refused.
public enum EventSchemaError: Error, CustomStringConvertible {
    /// A schema header is absent.
    case missingHeader(name: String)
    /// A schema header has no value, is not UTF-8, or is not of the expected form.
    case malformedHeader(name: String, value: String)
    /// The version in the schema name (`.vN.`) disagrees with the version header.
    case inconsistentHeaders(schema: String, version: String)
    /// The record was written with a major version this reader does not understand.
    case unsupportedVersion(schema: String, version: String)
    /// The record holds a different message than the one asked for.
    case unexpectedMessage(expected: String, found: String)
    /// The record has no value (a tombstone).
    case missingValue(schema: String)
    /// The value is not a valid encoding of the message its headers name.
    case undecodableValue(schema: String, underlying: any Error)

    public var description: String {
        let schemaHeader = EventSchema.schemaHeader
        let versionHeader = EventSchema.versionHeader
        switch self {
        case .missingHeader(let name):
            return "event record has no '\(name)' header"
        case .malformedHeader(let name, let value):
            return "event record header '\(name)' has a malformed value \(value)"
        case .inconsistentHeaders(let schema, let version):
            return "event record headers disagree: \(schemaHeader)='\(schema)', \(versionHeader)='\(version)'"
        case .unsupportedVersion(let schema, let version):
            return "unsupported event schema: \(schemaHeader)='\(schema)', \(versionHeader)='\(version)'; "
                + "this reader understands major version \(EventSchema.majorVersion) (\(EventSchema.package))"
        case .unexpectedMessage(let expected, let found):
            return "event record holds '\(found)', expected '\(expected)'"
        case .missingValue(let schema):
            return "event record of schema '\(schema)' has no value"
        case .undecodableValue(let schema, let underlying):
            return "event record value is not a valid '\(schema)': \(underlying)"
        }
    }
}

/// The schema a record names in its headers.
public struct EventSchemaID: Sendable, Hashable, CustomStringConvertible {
    /// The full protobuf message name, e.g. `paynode.events.v1.PspResultUpdateEvent`.
    public var messageName: String
    /// The major version.
    public var majorVersion: Int

    public init(messageName: String, majorVersion: Int) {
        self.messageName = messageName
        self.majorVersion = majorVersion
    }

    /// The schema of a message type of this build.
    public init<Event: PaynodeEvent>(_: Event.Type) {
        self.init(messageName: Event.protoMessageName, majorVersion: EventSchema.majorVersion)
    }

    /// Parses (without judging the version) the schema headers of a record. When a header occurs
    /// more than once the last occurrence counts, as with Kafka's `Headers.lastHeader`.
    public init(headers: [RecordHeader]) throws(EventSchemaError) {
        let schema = try Self.headerValue(EventSchema.schemaHeader, in: headers)
        let version = try Self.headerValue(EventSchema.versionHeader, in: headers)
        let components = schema.split(separator: ".", omittingEmptySubsequences: false)
        guard components.count >= 2, components.allSatisfy({ !$0.isEmpty && $0.allSatisfy(Self.isNameCharacter) }) else {
            throw .malformedHeader(name: EventSchema.schemaHeader, value: "'\(schema)'")
        }
        guard let major = Self.parseVersion(Substring(version)) else {
            throw .malformedHeader(name: EventSchema.versionHeader, value: "'\(version)'")
        }
        // A package ending in a version component (`paynode.events.v2`) must agree with the header.
        let packageTail = components[components.count - 2]
        if packageTail.first == "v", let packageMajor = Self.parseVersion(packageTail.dropFirst()),
           packageMajor != major {
            throw .inconsistentHeaders(schema: schema, version: version)
        }
        self.init(messageName: schema, majorVersion: major)
    }

    /// The two headers to put on a record of this schema.
    public var headers: [RecordHeader] {
        [
            RecordHeader(key: EventSchema.schemaHeader, value: Array(messageName.utf8)),
            RecordHeader(key: EventSchema.versionHeader, value: Array(String(majorVersion).utf8)),
        ]
    }

    public var description: String { "\(messageName) (version \(majorVersion))" }

    private static func headerValue(_ name: String, in headers: [RecordHeader]) throws(EventSchemaError) -> String {
        guard let header = headers.last(where: { $0.key == name }) else { throw .missingHeader(name: name) }
        guard let bytes = header.value else { throw .malformedHeader(name: name, value: "(null)") }
        guard let value = String(validating: bytes, as: UTF8.self) else {
            throw .malformedHeader(name: name, value: "(\(bytes.count) bytes, not UTF-8)")
        }
        return value
    }

    /// A positive decimal integer without sign, leading zeros or spaces.
    private static func parseVersion(_ text: Substring) -> Int? {
        guard let first = text.first, first != "0", text.count <= 9,
              text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }

    private static func isNameCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || character == "_")
    }
}

/// Writing and reading event records: the value bytes and the schema headers together.
public enum EventEnvelope {
    /// A record's value and schema headers. Add the `traceparent` header before producing.
    public struct Encoded: Sendable, Hashable {
        public var value: [UInt8]
        public var headers: [RecordHeader]
    }

    /// The schema headers for records holding `Event`.
    public static func headers<Event: PaynodeEvent>(for _: Event.Type) -> [RecordHeader] {
        EventSchemaID(Event.self).headers
    }

    /// Serializes `event` and names its schema.
    public static func encode<Event: PaynodeEvent>(_ event: Event) throws -> Encoded {
        Encoded(value: try event.serializedBytes(), headers: headers(for: Event.self))
    }

    /// The schema a record names, if this reader understands its major version. Use it to choose
    /// the message type where a topic carries several (`payment-events`).
    public static func schema(of headers: [RecordHeader]) throws(EventSchemaError) -> EventSchemaID {
        let id = try EventSchemaID(headers: headers)
        guard id.majorVersion == EventSchema.majorVersion else {
            throw .unsupportedVersion(schema: id.messageName, version: String(id.majorVersion))
        }
        return id
    }

    /// Checks that a record's headers name `Event` at this reader's major version.
    @discardableResult
    public static func check<Event: PaynodeEvent>(
        _ headers: [RecordHeader], expecting _: Event.Type
    ) throws(EventSchemaError) -> EventSchemaID {
        // The common case, headers exactly as this build writes them, costs two byte compares;
        // anything else goes through the full parse and its precise errors.
        let expected = EventSchemaID(Event.self)
        if let schema = headers.last(where: { $0.key == EventSchema.schemaHeader })?.value,
           let version = headers.last(where: { $0.key == EventSchema.versionHeader })?.value,
           schema.elementsEqual(expected.messageName.utf8), version.elementsEqual(String(expected.majorVersion).utf8) {
            return expected
        }
        let id = try schema(of: headers)
        guard id.messageName == Event.protoMessageName else {
            throw .unexpectedMessage(expected: Event.protoMessageName, found: id.messageName)
        }
        return id
    }

    /// Checks the headers, then decodes the value. Fields the reader does not know (written by a
    /// newer writer of the same major version) are kept in `unknownFields`.
    public static func decode<Event: PaynodeEvent>(
        _ type: Event.Type, value: [UInt8]?, headers: [RecordHeader]
    ) throws(EventSchemaError) -> Event {
        try check(headers, expecting: type)
        return try decodeValue(type, value: value)
    }

    /// Decodes a record's value as `Event` without looking at headers.
    public static func decodeValue<Event: PaynodeEvent>(
        _: Event.Type, value: [UInt8]?
    ) throws(EventSchemaError) -> Event {
        guard let value else { throw .missingValue(schema: Event.protoMessageName) }
        do {
            return try Event(serializedBytes: value)
        } catch {
            throw .undecodableValue(schema: Event.protoMessageName, underlying: error)
        }
    }
}

/// The schema's times are Int64 milliseconds since the Unix epoch (`*_unix_ms` fields), the unit
/// of Kafka record timestamps. These convert to and from `Date`.
public enum EventTime {
    /// Milliseconds since the Unix epoch, rounded to the nearest millisecond (a `Date` is a
    /// `Double` of seconds, so a whole millisecond may come back as 122.99999...; rounding to
    /// nearest makes `unixMilliseconds(date(unixMilliseconds: m)) == m`).
    public static func unixMilliseconds(_ date: Date) -> Int64 {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded(.toNearestOrAwayFromZero)
        guard milliseconds.isFinite else { return milliseconds < 0 ? .min : .max }
        if milliseconds >= Double(Int64.max) { return .max }
        if milliseconds <= Double(Int64.min) { return .min }
        return Int64(milliseconds)
    }

    /// The date of a unix-millisecond time.
    public static func date(unixMilliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(unixMilliseconds) / 1000)
    }

    /// The current time in unix milliseconds.
    public static func nowUnixMilliseconds() -> Int64 {
        unixMilliseconds(Date())
    }
}
