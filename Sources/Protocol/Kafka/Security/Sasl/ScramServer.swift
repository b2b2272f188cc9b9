/// The server side of one SCRAM exchange (RFC 5802, RFC 7677), as Kafka's ScramSaslServer runs
/// it: client-first -> server-first -> client-final -> server-final. Pure: the caller supplies
/// the credential lookup and the nonce, and sends the returned tokens.
///
/// An unknown user gets a fake credential derived from `fakeSaltKey` and the name (the same
/// salt every time, like a real one), and fails at the proof exactly where a wrong password
/// does, so the exchange cannot tell which names exist.
public struct ScramServer: Sendable {
    public enum Step: Sendable, Hashable {
        /// Send this token and wait for the next.
        case challenge([UInt8])
        /// The client proved the password: send this final token; the user is authenticated.
        case authenticated(username: String, finalMessage: [UInt8])
        case failed(SaslFailure)
    }

    private enum State: Sendable {
        case awaitingClientFirst
        case awaitingClientFinal(Pending)
        case finished
    }

    private struct Pending: Sendable {
        var clientFirst: ScramClientFirstMessage
        var serverFirst: String
        var nonce: String
        var credential: ScramCredential
        var knownUser: Bool
    }

    public let hash: ScramHash
    private let serverNonce: String
    private let fakeSaltKey: [UInt8]
    private var state: State = .awaitingClientFirst

    /// `serverNonce`: fresh random printable characters per exchange (see `randomNonce`).
    /// `fakeSaltKey`: a per-node secret the fake salts of unknown users derive from.
    public init(hash: ScramHash, serverNonce: String, fakeSaltKey: [UInt8]) {
        self.hash = hash
        self.serverNonce = serverNonce
        self.fakeSaltKey = fakeSaltKey
    }

    public var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    /// Consumes the client's next token. `credential` returns the stored credential of a user
    /// for this mechanism, nil when there is none.
    public mutating func receive(_ token: [UInt8], credential: (String) -> ScramCredential?) -> Step {
        switch state {
        case .awaitingClientFirst:
            do throws(SaslFailure) {
                let first = try ScramClientFirstMessage.parse(token)
                if first.extensions["tokenauth"] != nil {
                    throw SaslFailure("delegation tokens (tokenauth) are not supported")
                }
                let stored = credential(first.username)
                let chosen = stored ?? fakeCredential(for: first.username)
                let nonce = first.nonce + serverNonce
                let serverFirst = ScramServerFirstMessage(nonce: nonce, salt: chosen.salt, iterations: chosen.iterations).text
                state = .awaitingClientFinal(Pending(clientFirst: first, serverFirst: serverFirst, nonce: nonce,
                                                     credential: chosen, knownUser: stored != nil))
                return .challenge(Array(serverFirst.utf8))
            } catch {
                state = .finished
                return .failed(error)
            }
        case .awaitingClientFinal(let pending):
            state = .finished
            do {
                return try verify(token, pending: pending)
            } catch {
                return .failed(error)
            }
        case .finished:
            return .failed(SaslFailure("the SCRAM exchange is already over"))
        }
    }

    private func verify(_ token: [UInt8], pending: Pending) throws(SaslFailure) -> Step {
        let final = try ScramClientFinalMessage.parse(token)
        guard final.channelBinding == Array(pending.clientFirst.gs2Header.utf8) else {
            throw SaslFailure("channel binding does not match the client-first-message")
        }
        // Kafka's ScramSaslServer checks that the nonce ends with the combined one; librdkafka
        // up to 2.0 sends the client's nonce twice ("r=<client><client><server>"), and the
        // proof covers the message as sent, so a replay still cannot pass.
        guard final.nonce.hasSuffix(pending.nonce) else { throw SaslFailure("nonce does not match the server's") }
        guard final.proof.count == hash.digestLength else { throw SaslFailure("proof has \(final.proof.count) bytes, expected \(hash.digestLength)") }
        let authMessage = Array((pending.clientFirst.bare + "," + pending.serverFirst + "," + final.withoutProof).utf8)
        let clientSignature = hash.hmac(key: pending.credential.storedKey, authMessage)
        let clientKey = zip(final.proof, clientSignature).map { $0 ^ $1 }
        // Checked for known and unknown users alike; a fake credential's StoredKey matches nothing.
        let proofMatches = ScramHash.constantTimeEqual(hash.hash(clientKey), pending.credential.storedKey)
        guard proofMatches, pending.knownUser else {
            throw SaslFailure(pending.knownUser ? "wrong password for \(pending.clientFirst.username)"
                                                : "unknown user \(pending.clientFirst.username)", badCredentials: true)
        }
        let serverSignature = hash.hmac(key: pending.credential.serverKey, authMessage)
        return .authenticated(username: pending.clientFirst.username,
                              finalMessage: Array("v=\(SaslBase64.encode(serverSignature))".utf8))
    }

    private func fakeCredential(for username: String) -> ScramCredential {
        let salt = ScramHash.sha256.hmac(key: fakeSaltKey, Array("salt:\(username)".utf8))
        let storedKey = hash.hmac(key: fakeSaltKey, Array("stored-key:\(username)".utf8))
        return ScramCredential(hash: hash, salt: salt, iterations: ScramCredential.defaultIterations,
                               storedKey: storedKey, serverKey: storedKey)
    }

    /// A fresh nonce: 24 random bytes in base64 (no ',' can appear).
    public static func randomNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return SaslBase64.encode((0..<24).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// A per-process secret for fake salts.
    public static func randomFakeSaltKey() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
