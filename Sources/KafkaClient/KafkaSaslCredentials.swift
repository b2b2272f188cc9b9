import Protocol

/// What a client authenticates with on a SASL_* listener: the mechanism, the user, and the
/// password (kept only in memory, never logged: `description` hides it).
public struct KafkaSaslCredentials: Sendable, CustomStringConvertible {
    public var mechanism: SaslMechanism
    public var username: String
    public var password: [UInt8]

    public init(mechanism: SaslMechanism, username: String, password: [UInt8]) {
        self.mechanism = mechanism
        self.username = username
        self.password = password
    }

    public var description: String { "\(mechanism) as \(username)" }
}

/// The client side of a Kafka SASL exchange as a pure state machine: SaslHandshake v1 with the
/// mechanism, then the SaslAuthenticate tokens of PLAIN or SCRAM, then done. The connection
/// sends what it says and feeds it the broker's answers.
public struct KafkaSaslClient: Sendable {
    public enum Next: Sendable, Hashable {
        case sendHandshake(SaslHandshakeRequest)
        case sendAuthenticate(SaslAuthenticateRequest)
        case authenticated
    }

    private enum State: Sendable {
        case initial
        case awaitingHandshake
        case plainSent
        case scramFirstSent(ScramClient)
        case scramFinalSent(ScramClient)
        case done
    }

    private let credentials: KafkaSaslCredentials
    private var state: State = .initial

    public init(credentials: KafkaSaslCredentials) {
        self.credentials = credentials
    }

    public mutating func start() -> Next {
        state = .awaitingHandshake
        return .sendHandshake(SaslHandshakeRequest(mechanism: credentials.mechanism.rawValue))
    }

    public mutating func receive(_ response: SaslHandshakeResponse) throws(KafkaClientError) -> Next {
        guard case .awaitingHandshake = state else { throw Self.outOfOrder }
        guard response.errorCode == 0 else {
            state = .done
            throw KafkaClientError.broker(response.errorCode, "SaslHandshake for \(credentials.mechanism) refused; the broker enables \(response.mechanisms.prefix(8).joined(separator: ","))")
        }
        if let hash = credentials.mechanism.scramHash {
            var scram = ScramClient(hash: hash, username: credentials.username, password: credentials.password)
            let first = scram.clientFirstMessage()
            state = .scramFirstSent(scram)
            return .sendAuthenticate(SaslAuthenticateRequest(authBytes: first))
        }
        state = .plainSent
        return .sendAuthenticate(SaslAuthenticateRequest(authBytes: PlainClient.message(username: credentials.username,
                                                                                       password: credentials.password)))
    }

    public mutating func receive(_ response: SaslAuthenticateResponse) throws(KafkaClientError) -> Next {
        let current = state
        state = .done
        guard response.errorCode == 0 else {
            throw KafkaClientError.broker(response.errorCode, "SASL \(credentials) failed: \(response.errorMessage?.prefix(300) ?? "no message")")
        }
        do throws(SaslFailure) {
            switch current {
            case .plainSent:
                return .authenticated
            case .scramFirstSent(var scram):
                let final = try scram.receiveServerFirst(response.authBytes)
                state = .scramFinalSent(scram)
                return .sendAuthenticate(SaslAuthenticateRequest(authBytes: final))
            case .scramFinalSent(var scram):
                try scram.receiveServerFinal(response.authBytes)
                return .authenticated
            case .initial, .awaitingHandshake, .done:
                throw SaslFailure("unexpected SaslAuthenticate response")
            }
        } catch {
            throw KafkaClientError(.protocolViolation, "SASL \(credentials): \(error.reason)")
        }
    }

    private static var outOfOrder: KafkaClientError {
        KafkaClientError(.protocolViolation, "SASL response out of order")
    }
}
