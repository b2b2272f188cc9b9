/// One connection's SASL state on a SASL_* listener, as Kafka's SaslServerAuthenticator keeps
/// it: a SaslHandshake (v1) names the mechanism, then SaslAuthenticate requests carry its
/// tokens until the user is authenticated or refused. Pure: the broker decodes the requests,
/// supplies the credential lookup, sends the responses, and closes when told to.
public struct SaslServerSession: Sendable {
    /// What the broker does with one request's answer.
    public struct Answer<Response: Sendable>: Sendable {
        public var response: Response
        /// Send the response, then close the connection (Kafka does after every refusal).
        public var close: Bool
        /// Set when this request ended the exchange, for the log and the metrics.
        public var outcome: Outcome?
    }

    public enum Outcome: Sendable, Hashable {
        case authenticated(KafkaPrincipal, SaslMechanism)
        case failed(SaslMechanism?, SaslFailure)
    }

    private enum State: Sendable {
        case awaitingHandshake
        case plain
        case scram(ScramServer)
        case authenticated
        case failed
    }

    public let enabledMechanisms: [SaslMechanism]
    private let fakeSaltKey: [UInt8]
    private var state: State = .awaitingHandshake
    private var mechanism: SaslMechanism?

    public init(enabledMechanisms: [SaslMechanism], fakeSaltKey: [UInt8]) {
        self.enabledMechanisms = enabledMechanisms
        self.fakeSaltKey = fakeSaltKey
    }

    public var isAuthenticated: Bool {
        if case .authenticated = state { return true }
        return false
    }

    private var mechanismNames: [String] { enabledMechanisms.map(\.rawValue) }

    public mutating func handshake(_ request: SaslHandshakeRequest, version: Int16) -> Answer<SaslHandshakeResponse> {
        guard case .awaitingHandshake = state else {
            state = .failed
            return Answer(response: SaslHandshakeResponse(errorCode: KafkaErrorCode.illegalSaslState.rawValue, mechanisms: mechanismNames),
                          close: true, outcome: nil)
        }
        // Mechanism names are matched exactly, as Kafka matches them.
        guard let chosen = SaslMechanism(rawValue: request.mechanism), enabledMechanisms.contains(chosen) else {
            state = .failed
            return Answer(response: SaslHandshakeResponse(errorCode: KafkaErrorCode.unsupportedSaslMechanism.rawValue, mechanisms: mechanismNames),
                          close: true, outcome: .failed(nil, SaslFailure("unsupported SASL mechanism \(request.mechanism.prefix(64))")))
        }
        // v0 is followed by raw SASL tokens outside Kafka's framing, which paynode does not
        // speak; every client that knows v1 (all since Kafka 1.0) uses SaslAuthenticate.
        guard version >= 1 else {
            state = .failed
            return Answer(response: SaslHandshakeResponse(errorCode: KafkaErrorCode.illegalSaslState.rawValue, mechanisms: mechanismNames),
                          close: true, outcome: .failed(chosen, SaslFailure("SaslHandshake v0 (unframed tokens) is not supported")))
        }
        mechanism = chosen
        if let hash = chosen.scramHash {
            state = .scram(ScramServer(hash: hash, serverNonce: ScramServer.randomNonce(), fakeSaltKey: fakeSaltKey))
        } else {
            state = .plain
        }
        return Answer(response: SaslHandshakeResponse(errorCode: 0, mechanisms: mechanismNames), close: false, outcome: nil)
    }

    /// `credentials` returns a user's stored credentials, nil for an unknown user.
    public mutating func authenticate(_ request: SaslAuthenticateRequest,
                                      credentials: (String) -> StoredScramCredentials?) -> Answer<SaslAuthenticateResponse> {
        switch state {
        case .awaitingHandshake, .authenticated, .failed:
            state = .failed
            return Answer(response: SaslAuthenticateResponse(errorCode: KafkaErrorCode.illegalSaslState.rawValue,
                                                             errorMessage: "SaslAuthenticate is only valid after a SaslHandshake"),
                          close: true, outcome: .failed(mechanism, SaslFailure("SaslAuthenticate out of order")))
        case .plain:
            let result = PlainServer.authenticate(request.authBytes, fakeSaltKey: fakeSaltKey) { name in
                let stored = credentials(name)
                return stored?.credential(for: .sha512) ?? stored?.credential(for: .sha256)
            }
            switch result {
            case .success(let name):
                return succeed(name, finalMessage: [], mechanism: .plain)
            case .failure(let failure):
                return fail(failure, mechanism: .plain)
            }
        case .scram(var scram):
            let hash = scram.hash
            let step = scram.receive(request.authBytes) { credentials($0)?.credential(for: hash) }
            let mechanism = hash.mechanism
            switch step {
            case .challenge(let token):
                state = .scram(scram)
                return Answer(response: SaslAuthenticateResponse(errorCode: 0, authBytes: token), close: false, outcome: nil)
            case .authenticated(let name, let finalMessage):
                return succeed(name, finalMessage: finalMessage, mechanism: mechanism)
            case .failed(let failure):
                return fail(failure, mechanism: mechanism)
            }
        }
    }

    private mutating func succeed(_ name: String, finalMessage: [UInt8], mechanism: SaslMechanism) -> Answer<SaslAuthenticateResponse> {
        state = .authenticated
        let principal = KafkaPrincipal(name: name)
        // Session lifetime 0: no re-authentication is required (KIP-368 is not enforced).
        return Answer(response: SaslAuthenticateResponse(errorCode: 0, authBytes: finalMessage, sessionLifetimeMs: 0),
                      close: false, outcome: .authenticated(principal, mechanism))
    }

    private mutating func fail(_ failure: SaslFailure, mechanism: SaslMechanism) -> Answer<SaslAuthenticateResponse> {
        state = .failed
        // The same words for an unknown user and a wrong password: names cannot be probed.
        let message = failure.badCredentials
            ? "Authentication failed during authentication due to invalid credentials with SASL mechanism \(mechanism)"
            : "Authentication failed: \(failure.reason)"
        return Answer(response: SaslAuthenticateResponse(errorCode: KafkaErrorCode.saslAuthenticationFailed.rawValue, errorMessage: message),
                      close: true, outcome: .failed(mechanism, failure))
    }
}
