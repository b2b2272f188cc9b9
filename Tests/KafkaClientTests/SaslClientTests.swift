import KafkaClient
import Protocol
import Testing

/// The client's SASL state machine against the broker's `SaslServerSession`, in process:
/// every mechanism, wrong passwords, unknown users, and the broker's ordering rules.
@Suite struct SaslClientTests {
    static let fakeKey = [UInt8](repeating: 9, count: 32)
    static let stored = StoredScramCredentials(credentials: [
        ScramCredential(hash: .sha256, password: Array("pw-executor".utf8), salt: ScramCredential.randomSalt(), iterations: 4096),
        ScramCredential(hash: .sha512, password: Array("pw-executor".utf8), salt: ScramCredential.randomSalt(), iterations: 4096),
    ])

    private func lookup(_ name: String) -> StoredScramCredentials? { name == "executor" ? Self.stored : nil }

    /// Runs the exchange; the principal on success, else the first refusal's error code.
    private func run(_ mechanism: SaslMechanism, user: String, password: String,
                     enabled: [SaslMechanism] = SaslMechanism.allCases) -> (principal: KafkaPrincipal?, errorCode: Int16?, closed: Bool) {
        var server = SaslServerSession(enabledMechanisms: enabled, fakeSaltKey: Self.fakeKey)
        var client = KafkaSaslClient(credentials: KafkaSaslCredentials(mechanism: mechanism, username: user, password: Array(password.utf8)))
        var next = client.start()
        for _ in 0..<5 {
            switch next {
            case .authenticated:
                #expect(server.isAuthenticated)
                return (KafkaPrincipal(name: user), nil, false)
            case .sendHandshake(let request):
                let answer = server.handshake(request, version: 1)
                if answer.close { return (nil, answer.response.errorCode, true) }
                guard let following = try? client.receive(answer.response) else { return (nil, answer.response.errorCode, false) }
                next = following
            case .sendAuthenticate(let request):
                let answer = server.authenticate(request, credentials: lookup)
                if case .authenticated(let principal, let used)? = answer.outcome {
                    #expect(used == mechanism)
                    #expect(principal == KafkaPrincipal(name: user))
                }
                if answer.close {
                    #expect(answer.response.errorCode != 0)
                    return (nil, answer.response.errorCode, true)
                }
                do { next = try client.receive(answer.response) } catch { return (nil, answer.response.errorCode, false) }
            }
        }
        Issue.record("exchange did not end")
        return (nil, nil, false)
    }

    @Test(arguments: SaslMechanism.allCases)
    func everyMechanismAuthenticates(_ mechanism: SaslMechanism) {
        #expect(run(mechanism, user: "executor", password: "pw-executor").principal == KafkaPrincipal(name: "executor"))
    }

    @Test(arguments: SaslMechanism.allCases)
    func wrongPasswordAndUnknownUserAreRefusedAlike(_ mechanism: SaslMechanism) {
        let wrong = run(mechanism, user: "executor", password: "nope")
        let unknown = run(mechanism, user: "nobody", password: "pw-executor")
        #expect(wrong.errorCode == KafkaErrorCode.saslAuthenticationFailed.rawValue && wrong.closed)
        #expect(unknown.errorCode == KafkaErrorCode.saslAuthenticationFailed.rawValue && unknown.closed)
    }

    @Test func disabledMechanismIsRefusedWithTheEnabledList() {
        var server = SaslServerSession(enabledMechanisms: [.scramSHA512], fakeSaltKey: Self.fakeKey)
        let answer = server.handshake(SaslHandshakeRequest(mechanism: "PLAIN"), version: 1)
        #expect(answer.response == SaslHandshakeResponse(errorCode: KafkaErrorCode.unsupportedSaslMechanism.rawValue, mechanisms: ["SCRAM-SHA-512"]))
        #expect(answer.close)
        // Names are matched exactly, as Kafka does.
        var lowercase = SaslServerSession(enabledMechanisms: [.plain], fakeSaltKey: Self.fakeKey)
        #expect(lowercase.handshake(SaslHandshakeRequest(mechanism: "plain"), version: 1).response.errorCode == 33)
    }

    @Test func outOfOrderRequestsAreIllegalSaslState() {
        var early = SaslServerSession(enabledMechanisms: [.plain], fakeSaltKey: Self.fakeKey)
        let answer = early.authenticate(SaslAuthenticateRequest(authBytes: Array("\0executor\0pw-executor".utf8)), credentials: lookup)
        #expect(answer.response.errorCode == KafkaErrorCode.illegalSaslState.rawValue && answer.close && !early.isAuthenticated)

        var twice = SaslServerSession(enabledMechanisms: [.plain], fakeSaltKey: Self.fakeKey)
        #expect(!twice.handshake(SaslHandshakeRequest(mechanism: "PLAIN"), version: 1).close)
        #expect(twice.handshake(SaslHandshakeRequest(mechanism: "PLAIN"), version: 1).response.errorCode == KafkaErrorCode.illegalSaslState.rawValue)

        var afterSuccess = SaslServerSession(enabledMechanisms: [.plain], fakeSaltKey: Self.fakeKey)
        _ = afterSuccess.handshake(SaslHandshakeRequest(mechanism: "PLAIN"), version: 1)
        let ok = afterSuccess.authenticate(SaslAuthenticateRequest(authBytes: Array("\0executor\0pw-executor".utf8)), credentials: lookup)
        #expect(ok.response.errorCode == 0 && afterSuccess.isAuthenticated)
        #expect(afterSuccess.authenticate(SaslAuthenticateRequest(authBytes: []), credentials: lookup).close)

        var v0 = SaslServerSession(enabledMechanisms: [.plain], fakeSaltKey: Self.fakeKey)
        #expect(v0.handshake(SaslHandshakeRequest(mechanism: "PLAIN"), version: 0).close)
    }

    @Test func clientRefusesABrokerThatSkipsTheServerSignature() throws {
        var client = KafkaSaslClient(credentials: KafkaSaslCredentials(mechanism: .scramSHA256, username: "executor", password: Array("pw".utf8)))
        _ = client.start()
        _ = try client.receive(SaslHandshakeResponse(errorCode: 0, mechanisms: ["SCRAM-SHA-256"]))
        // A broker that "accepts" without a challenge is not running SCRAM with us.
        #expect(throws: KafkaClientError.self) { try client.receive(SaslAuthenticateResponse(errorCode: 0, authBytes: Array("v=AAAA".utf8))) }
    }

    @Test func credentialsNeverPrintThePassword() {
        let credentials = KafkaSaslCredentials(mechanism: .plain, username: "executor", password: Array("hunter2".utf8))
        #expect(!"\(credentials)".contains("hunter2"))
    }
}
