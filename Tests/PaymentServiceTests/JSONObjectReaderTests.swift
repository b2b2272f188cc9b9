import Foundation
import Testing
@testable import PaymentService

/// The order request's JSON reader against Foundation's parser, which it replaced: the same
/// documents are accepted and read to the same strings and integers, over a corpus and every
/// single-byte change of a real request body.
@Suite("JSON object reader")
struct JSONObjectReaderTests {
    static let request = #"{"merchantId":"m_1","amount":5000,"currency":"EUR","paymentMethod":"tok_visa","psp":"stripe"}"#

    /// Whether Foundation reads `bytes` as the reader did: both refuse them, or both accept
    /// them with the same members, the same strings and the same integers.
    static func foundationAgrees(_ bytes: [UInt8], with members: [String: JSONObjectReader.Value]?) -> Bool {
        let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
        guard let object, let members else { return object == nil && members == nil }
        guard Set(object.keys) == Set(members.keys) else { return false }
        return members.allSatisfy { key, value in
            switch value {
            case .string(let text): return object[key] as? String == text
            case .integer(let integer): return (object[key] as? NSNumber)?.int64Value == integer && !(object[key] is String)
            case .other: return !(object[key] is String)
            }
        }
    }

    static func reader(_ bytes: [UInt8]) -> [String: JSONObjectReader.Value]? {
        try? JSONObjectReader.members(of: bytes)
    }

    @Test func readsAnOrderRequest() throws {
        let members = try JSONObjectReader.members(of: Array(Self.request.utf8))
        #expect(members == ["merchantId": .string("m_1"), "amount": .integer(5000), "currency": .string("EUR"),
                            "paymentMethod": .string("tok_visa"), "psp": .string("stripe")])
    }

    static let validDocuments: [(String, [String: JSONObjectReader.Value])] = [
        (#" { "a" : "x" } "#, ["a": .string("x")]),
        ("{}", [:]),
        (#"{"a":"\"\\\/\b\f\n\r\t"}"#, ["a": .string("\"\\/\u{8}\u{c}\n\r\t")]),
        (#"{"a":"\u00e9\u20AC\ud83d\ude00"}"#, ["a": .string("é€😀")]),
        (#"{"a":"é€😀"}"#, ["a": .string("é€😀")]),
        (#"{"a":9223372036854775807,"b":-9223372036854775808,"c":9223372036854775808,"d":-0}"#,
         ["a": .integer(.max), "b": .integer(.min), "c": .other, "d": .integer(0)]),
        (#"{"a":1.5,"b":1e2,"c":-2E-3,"d":true,"e":false,"f":null,"g":[1,{"h":[]}],"i":{"j":"k"}}"#,
         ["a": .other, "b": .other, "c": .other, "d": .other, "e": .other, "f": .other, "g": .other, "i": .other]),
    ]

    @Test(arguments: validDocuments)
    func readsValidDocuments(text: String, expected: [String: JSONObjectReader.Value]) throws {
        #expect(try JSONObjectReader.members(of: Array(text.utf8)) == expected)
        #expect(Self.foundationAgrees(Array(text.utf8), with: expected))
    }

    @Test(arguments: [
        ("", "expected a JSON object at byte 0"),
        ("[1]", "expected a JSON object at byte 0"),
        (#"{"a":1,}"#, "expected a string at byte 7"),
        (#"{"a":01}"#, "a number with a leading zero at byte 5"),
        (#"{"a":1.}"#, "expected a digit at byte 7"),
        (#"{"a":"x"} x"#, "unexpected data after the object at byte 10"),
        (#"{"a":"\ud800"}"#, "an unpaired surrogate escape at byte 12"),
        (#"{"a":"\udc00"}"#, "an unpaired surrogate escape at byte 12"),
        (#"{"a":"\x"}"#, "an unknown escape at byte 7"),
        (#"{"a":"\u12"}"#, "a \\u escape needs 4 hex digits at byte 10"),
        ("{\"a\":\"\u{1}\"}", "a control character in a string at byte 6"),
        (#"{"a":"x"#, "an unterminated string at byte 7"),
        (#"{"a":tru}"#, "expected true at byte 5"),
        (#"{"amount":1,"amount":2}"#, "the member \"amount\" is given twice at byte 12"),
        (#"{"merchantId":"m_1" "amount":5000}"#, "expected ',' or '}' in an object at byte 20"),  // docs/payments.md
    ])
    func refusesInvalidDocuments(text: String, message: String) {
        #expect(throws: JSONObjectReader.Failure.self) { try JSONObjectReader.members(of: Array(text.utf8)) }
        do {
            _ = try JSONObjectReader.members(of: Array(text.utf8))
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func refusesInvalidUTF8AndDeepNesting() {
        #expect(Self.reader(Array(#"{"a":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)) == nil)
        #expect(Self.reader(Array(#"{"a":""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8)) == nil)
        let deep = #"{"a":"# + String(repeating: "[", count: JSONObjectReader.maximumDepth) + String(repeating: "]", count: JSONObjectReader.maximumDepth) + "}"
        #expect(Self.reader(Array(deep.utf8)) == ["a": .other])
        let tooDeep = #"{"a":"# + String(repeating: "[", count: JSONObjectReader.maximumDepth + 1) + String(repeating: "]", count: JSONObjectReader.maximumDepth + 1) + "}"
        #expect(Self.reader(Array(tooDeep.utf8)) == nil)
    }

    /// Every single-byte replacement, deletion and truncation of a request body: the reader and
    /// Foundation accept the same documents and read them the same way.
    @Test func agreesWithFoundationOnEverySingleByteChange() {
        let base = Array(Self.request.utf8)
        let replacements: [UInt8] = Array(#" "\{}[],:.-+0159eEtfnu/"#.utf8) + [0x00, 0x09, 0x0A, 0x7F, 0x80, 0xC3, 0xFF]
        var documents: [[UInt8]] = []
        for index in base.indices {
            for byte in replacements where byte != base[index] {
                var changed = base
                changed[index] = byte
                documents.append(changed)
            }
            var deleted = base
            deleted.remove(at: index)
            documents.append(deleted)
            documents.append(Array(base[..<index]))
        }
        var disagreements: [String] = []
        for document in documents where !Self.foundationAgrees(document, with: Self.reader(document)) {
            disagreements.append(String(decoding: document, as: UTF8.self))
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) of \(documents.count): \(disagreements.prefix(5))")
    }
}
