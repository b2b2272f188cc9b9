import Logging
import Telemetry
import Testing

@Suite("Log line escaping")
struct LogEscapingTests {
    @Test(arguments: [
        ("plain text, ünïcödé and € stay", "plain text, ünïcödé and € stay"),
        ("a\nforged line", #"a\nforged line"#),
        ("a\r\nb", #"a\r\nb"#),
        ("tab\there", #"tab\there"#),
        ("\u{1B}[31mred", #"\u{1B}[31mred"#),
        ("nul\u{0}", #"nul\u{0}"#),
        ("del\u{7F}", #"del\u{7F}"#),
        ("nel\u{85}c1\u{9B}", #"nel\u{85}c1\u{9B}"#),
        ("ls\u{2028}ps\u{2029}", #"ls\u{2028}ps\u{2029}"#),
        (#"back\slash"#, #"back\\slash"#),
        // An escape already in the input cannot pass for one the escaper wrote.
        (#"fake\n"#, #"fake\\n"#),
        ("\u{A0}\u{E9}\u{2027}\u{202A}", "\u{A0}\u{E9}\u{2027}\u{202A}"),
    ])
    func controlCharactersAreEscaped(input: String, escaped: String) {
        #expect(LogEscaping.escape(input) == escaped)
    }

    @Test func noEscapedTextHoldsAControlCharacter() {
        for value in 0..<0x3000 {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let escaped = LogEscaping.escape("x\(Character(scalar))y")
            #expect(!escaped.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0 == "\u{2028}" || $0 == "\u{2029}" },
                    "U+\(String(value, radix: 16))")
        }
    }

    struct ThrownWithNewline: Error, CustomStringConvertible {
        var description: String { "failed\nFORGED" }
    }

    @Test func everyPartOfAnEventIsEscapedAndMerged() {
        let event = LogEvent(level: .info, message: "GET /x\r\nFORGED", metadata: ["id": "a\nb", "nested": ["k": "v\n"], "e\nvil": "k"],
                             source: "s", file: "f", function: "fn", line: 1)
        var withError = event
        withError.error = ThrownWithNewline()
        let escaped = EscapingLogHandler<StreamLogHandler>.escaped(withError, handlerMetadata: ["handler": "h\u{1B}"],
                                                                   provided: ["trace_id": "t\n"])
        #expect(escaped.message.description == #"GET /x\r\nFORGED"#)
        let metadata = escaped.metadata ?? [:]
        #expect(metadata["id"] == .string(#"a\nb"#))
        #expect(metadata["e\\nvil"] == .string("k"))
        #expect(metadata["handler"] == .string(#"h\u{1B}"#))
        #expect(metadata["trace_id"] == .string(#"t\n"#))
        #expect(metadata["error.message"] == .string(#"failed\nFORGED"#))
        #expect(escaped.error == nil)
        for (key, value) in metadata {
            #expect(!key.contains("\n") && !value.description.contains("\n"))
        }
    }
}
