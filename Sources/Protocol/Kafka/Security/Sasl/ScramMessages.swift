/// Why a SASL exchange failed. `reason` is for the node's log; what the client is told is
/// chosen by the caller, so a reply never says whether a user exists.
public struct SaslFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var reason: String
    /// True when the credentials were wrong (or the user unknown), false for a malformed or
    /// refused exchange.
    public var badCredentials: Bool

    public init(_ reason: String, badCredentials: Bool = false) {
        self.reason = reason
        self.badCredentials = badCredentials
    }

    public var description: String { reason }
}

/// The text forms of RFC 5802's messages, parsed strictly. Every message is bounded by
/// `maximumLength`, every attribute is checked, and nothing is guessed.
enum ScramMessage {
    /// Longest SCRAM message accepted (Kafka's are well under 1 KiB).
    static let maximumLength = 4096

    static func text(_ bytes: [UInt8]) throws(SaslFailure) -> String {
        guard bytes.count <= maximumLength else { throw SaslFailure("SCRAM message of \(bytes.count) bytes is too long") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw SaslFailure("SCRAM message is not UTF-8") }
        guard !text.unicodeScalars.contains(where: { $0.value == 0 }) else { throw SaslFailure("SCRAM message contains NUL") }
        return text
    }

    static func fields(_ text: String) -> [Substring] {
        text.split(separator: ",", omittingEmptySubsequences: false)
    }

    /// The value of `name=value`, or a failure naming what was expected.
    static func attribute(_ field: Substring?, _ name: Character) throws(SaslFailure) -> Substring {
        guard let field, field.count >= 2, field.first == name, field.dropFirst().first == "=" else {
            throw SaslFailure("expected the '\(name)=' attribute, found '\(field.map { String($0.prefix(16)) } ?? "nothing")'")
        }
        return field.dropFirst(2)
    }

    /// printable = %x21-2B / %x2D-7E: ASCII without ',' or controls.
    static func isValidNonce(_ nonce: Substring) -> Bool {
        !nonce.isEmpty && nonce.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: ",") }
    }

    /// saslname: "=2C" is ',', "=3D" is '=', and no other '='.
    static func decodeName(_ encoded: Substring) throws(SaslFailure) -> String {
        var name = ""
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let character = encoded[index]
            if character == "=" {
                let escape = encoded[encoded.index(after: index)...].prefix(2)
                switch escape {
                case "2C": name.append(",")
                case "3D": name.append("=")
                default: throw SaslFailure("user name has an invalid '=' escape")
                }
                index = encoded.index(index, offsetBy: 3)
            } else {
                name.append(character)
                index = encoded.index(after: index)
            }
        }
        guard !name.isEmpty else { throw SaslFailure("user name is empty") }
        return name
    }

    static func encodeName(_ name: String) -> String {
        name.replacingAll("=", with: "=3D").replacingAll(",", with: "=2C")
    }
}

/// client-first-message = gs2-header client-first-message-bare.
struct ScramClientFirstMessage: Hashable {
    /// "n,," (or "y,,", or with "a=authzid"): what c= in the final message must carry.
    var gs2Header: String
    var username: String
    var nonce: String
    var bare: String
    var extensions: [String: String]

    static func parse(_ bytes: [UInt8]) throws(SaslFailure) -> ScramClientFirstMessage {
        let text = try ScramMessage.text(bytes)
        let fields = ScramMessage.fields(text)
        guard fields.count >= 4 else { throw SaslFailure("client-first-message has \(fields.count) fields, expected at least 4") }
        switch fields[0] {
        case "n", "y":
            // "y": the client could bind but thinks we cannot; we cannot, so that is correct.
            break
        default:
            if fields[0].hasPrefix("p=") { throw SaslFailure("channel binding is not supported") }
            throw SaslFailure("client-first-message has an invalid channel binding flag")
        }
        var authorizationId: String?
        if !fields[1].isEmpty { authorizationId = try ScramMessage.decodeName(try ScramMessage.attribute(fields[1], "a")) }
        if fields[2].hasPrefix("m=") { throw SaslFailure("mandatory SCRAM extensions are not supported") }
        let username = try ScramMessage.decodeName(try ScramMessage.attribute(fields[2], "n"))
        if let authorizationId, authorizationId != username {
            throw SaslFailure("authorization id differs from the user name")
        }
        let nonce = try ScramMessage.attribute(fields[3], "r")
        guard ScramMessage.isValidNonce(nonce) else { throw SaslFailure("client nonce is empty or not printable") }
        var extensions: [String: String] = [:]
        for field in fields.dropFirst(4) {
            guard let equals = field.firstIndex(of: "="), equals != field.startIndex else {
                throw SaslFailure("client-first-message has a malformed extension")
            }
            let key = String(field[..<equals])
            guard key.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }),
                  extensions[key] == nil else {
                throw SaslFailure("client-first-message has an invalid or repeated extension")
            }
            extensions[key] = String(field[field.index(after: equals)...])
        }
        let bare = fields.dropFirst(2).joined(separator: ",")
        let header = fields[0] + "," + fields[1] + ","
        return ScramClientFirstMessage(gs2Header: String(header), username: username, nonce: String(nonce),
                                       bare: bare, extensions: extensions)
    }
}

/// client-final-message = channel-binding "," nonce ["," extensions] "," proof.
struct ScramClientFinalMessage: Hashable {
    var channelBinding: [UInt8]
    var nonce: String
    var withoutProof: String
    var proof: [UInt8]

    static func parse(_ bytes: [UInt8]) throws(SaslFailure) -> ScramClientFinalMessage {
        let text = try ScramMessage.text(bytes)
        let fields = ScramMessage.fields(text)
        guard fields.count >= 3, let last = fields.last else { throw SaslFailure("client-final-message has too few fields") }
        guard let binding = SaslBase64.decode(try ScramMessage.attribute(fields[0], "c")) else {
            throw SaslFailure("channel binding is not base64")
        }
        let nonce = try ScramMessage.attribute(fields[1], "r")
        guard let proof = SaslBase64.decode(try ScramMessage.attribute(last, "p")) else { throw SaslFailure("proof is not base64") }
        let withoutProof = fields.dropLast().joined(separator: ",")
        return ScramClientFinalMessage(channelBinding: binding, nonce: String(nonce), withoutProof: withoutProof, proof: proof)
    }
}

/// server-first-message = nonce "," salt "," iteration-count.
struct ScramServerFirstMessage: Hashable {
    var nonce: String
    var salt: [UInt8]
    var iterations: Int

    var text: String { "r=\(nonce),s=\(SaslBase64.encode(salt)),i=\(iterations)" }

    static func parse(_ bytes: [UInt8]) throws(SaslFailure) -> ScramServerFirstMessage {
        let text = try ScramMessage.text(bytes)
        let fields = ScramMessage.fields(text)
        if fields.first?.hasPrefix("m=") == true { throw SaslFailure("server requires SCRAM extensions") }
        if fields.first?.hasPrefix("e=") == true { throw SaslFailure("server refused: \(fields[0].dropFirst(2).prefix(200))") }
        guard fields.count >= 3 else { throw SaslFailure("server-first-message has too few fields") }
        let nonce = try ScramMessage.attribute(fields[0], "r")
        guard ScramMessage.isValidNonce(nonce) else { throw SaslFailure("server nonce is not printable") }
        guard let salt = SaslBase64.decode(try ScramMessage.attribute(fields[1], "s")), !salt.isEmpty else {
            throw SaslFailure("salt is empty or not base64")
        }
        let countText = try ScramMessage.attribute(fields[2], "i")
        guard countText.count <= 10, countText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let iterations = Int(countText) else {
            throw SaslFailure("iteration count is not a number")
        }
        return ScramServerFirstMessage(nonce: String(nonce), salt: salt, iterations: iterations)
    }
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self {
            if character == target { result += replacement } else { result.append(character) }
        }
        return result
    }
}
