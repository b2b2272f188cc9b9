/// The client side of one SCRAM exchange: client-first, then the final message computed from
/// the server's challenge, then the check of the server's signature (which proves the server
/// holds the user's credential, not merely accepts anything). Pure: the caller sends the tokens.
public struct ScramClient: Sendable {
    private enum State: Sendable {
        case initial
        case awaitingServerFirst
        case awaitingServerFinal(serverSignature: [UInt8])
        case finished
    }

    public let hash: ScramHash
    private let username: String
    private let password: [UInt8]
    private let clientNonce: String
    private var state: State = .initial
    private var clientFirstBare: String { "n=\(ScramMessage.encodeName(username)),r=\(clientNonce)" }
    private static let gs2Header = "n,,"

    /// `clientNonce`: fresh random printable characters (see `ScramServer.randomNonce`).
    public init(hash: ScramHash, username: String, password: [UInt8], clientNonce: String = ScramServer.randomNonce()) {
        self.hash = hash
        self.username = username
        self.password = password
        self.clientNonce = clientNonce
    }

    public mutating func clientFirstMessage() -> [UInt8] {
        state = .awaitingServerFirst
        return Array((Self.gs2Header + clientFirstBare).utf8)
    }

    /// The client-final-message answering the server-first-message.
    public mutating func receiveServerFirst(_ token: [UInt8]) throws(SaslFailure) -> [UInt8] {
        guard case .awaitingServerFirst = state else { throw SaslFailure("SCRAM client is not waiting for a server-first-message") }
        state = .finished
        let first = try ScramServerFirstMessage.parse(token)
        guard first.nonce.hasPrefix(clientNonce), first.nonce.count > clientNonce.count else {
            throw SaslFailure("server nonce does not extend the client's")
        }
        guard (ScramCredential.minimumIterations...ScramCredential.maximumIterations).contains(first.iterations) else {
            throw SaslFailure("server asks for \(first.iterations) iterations, outside \(ScramCredential.minimumIterations)...\(ScramCredential.maximumIterations)")
        }
        let keys = ScramKeys(hash: hash, saltedPassword: hash.saltedPassword(password, salt: first.salt, iterations: first.iterations))
        let withoutProof = "c=\(SaslBase64.encode(Array(Self.gs2Header.utf8))),r=\(first.nonce)"
        let authMessage = Array((clientFirstBare + "," + first.text + "," + withoutProof).utf8)
        let clientSignature = hash.hmac(key: keys.storedKey, authMessage)
        let proof = zip(keys.clientKey, clientSignature).map { $0 ^ $1 }
        state = .awaitingServerFinal(serverSignature: hash.hmac(key: keys.serverKey, authMessage))
        return Array((withoutProof + ",p=" + SaslBase64.encode(proof)).utf8)
    }

    /// Checks the server-final-message; throws unless it carries the expected signature.
    public mutating func receiveServerFinal(_ token: [UInt8]) throws(SaslFailure) {
        guard case .awaitingServerFinal(let expected) = state else {
            throw SaslFailure("SCRAM client is not waiting for a server-final-message")
        }
        state = .finished
        let text = try ScramMessage.text(token)
        if text.hasPrefix("e=") { throw SaslFailure("server refused: \(text.dropFirst(2).prefix(200))", badCredentials: true) }
        guard let signature = SaslBase64.decode(try ScramMessage.attribute(ScramMessage.fields(text).first, "v")),
              ScramHash.constantTimeEqual(signature, expected) else {
            throw SaslFailure("server signature is wrong: the server does not hold this user's credential")
        }
    }
}

/// PLAIN (RFC 4616) on the client: the single message `NUL user NUL password`.
public enum PlainClient {
    public static func message(username: String, password: [UInt8]) -> [UInt8] {
        [0] + Array(username.utf8) + [0] + password
    }
}
