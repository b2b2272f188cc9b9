@testable import Protocol
import Testing

/// SCRAM (RFC 5802 / RFC 7677) and PLAIN (RFC 4616) state machines, server and client, with the
/// RFC 7677 test vector and hostile clients.
@Suite struct ScramTests {
    // RFC 7677 section 3.
    static let clientNonce = "rOprNGfwEbeRWgbNEkqO"
    static let serverNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    static let salt = SaslBase64.decode("W22ZaJ0SNY7soEsUEjb6gQ==")!
    static let clientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    static let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    static let clientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    static let serverFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    static let pencil = ScramCredential(hash: .sha256, password: Array("pencil".utf8), salt: salt, iterations: 4096)
    static let fakeKey = [UInt8](repeating: 7, count: 32)

    private func server(_ nonce: String = serverNonce, hash: ScramHash = .sha256) -> ScramServer {
        ScramServer(hash: hash, serverNonce: nonce, fakeSaltKey: Self.fakeKey)
    }

    private func users(_ name: String) -> ScramCredential? { name == "user" ? Self.pencil : nil }

    private func failure(_ step: ScramServer.Step) -> SaslFailure? {
        if case .failed(let failure) = step { return failure }
        return nil
    }

    @Test func rfc7677ServerSide() {
        var scram = server()
        #expect(scram.receive(Array(Self.clientFirst.utf8), credential: users) == .challenge(Array(Self.serverFirst.utf8)))
        #expect(scram.receive(Array(Self.clientFinal.utf8), credential: users)
            == .authenticated(username: "user", finalMessage: Array(Self.serverFinal.utf8)))
        #expect(scram.isFinished)
        #expect(failure(scram.receive(Array(Self.clientFinal.utf8), credential: users)) != nil)
    }

    @Test func rfc7677ClientSide() throws {
        var client = ScramClient(hash: .sha256, username: "user", password: Array("pencil".utf8), clientNonce: Self.clientNonce)
        #expect(client.clientFirstMessage() == Array(Self.clientFirst.utf8))
        #expect(try client.receiveServerFirst(Array(Self.serverFirst.utf8)) == Array(Self.clientFinal.utf8))
        try client.receiveServerFinal(Array(Self.serverFinal.utf8))
    }

    @Test func clientRefusesForgedServerSignature() throws {
        var client = ScramClient(hash: .sha256, username: "user", password: Array("pencil".utf8), clientNonce: Self.clientNonce)
        _ = client.clientFirstMessage()
        _ = try client.receiveServerFirst(Array(Self.serverFirst.utf8))
        #expect(throws: SaslFailure.self) { try client.receiveServerFinal(Array("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".utf8)) }
    }

    @Test func clientRefusesHostileServerFirst() {
        let cases = [
            "r=otherNonce,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",          // does not extend our nonce
            "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", // adds nothing
            "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1",   // too few iterations
            "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=999999999", // a denial of service
            "r=rOprNGfwEbeRWgbNEkqOx,s=not*base64,i=4096",
            "m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "e=other-error",
        ]
        for text in cases {
            var client = ScramClient(hash: .sha256, username: "user", password: Array("pencil".utf8), clientNonce: Self.clientNonce)
            _ = client.clientFirstMessage()
            #expect(throws: SaslFailure.self, "\(text)") { try client.receiveServerFirst(Array(text.utf8)) }
        }
    }

    @Test(arguments: [ScramHash.sha256, .sha512])
    func clientAgainstServerInProcess(_ hash: ScramHash) throws {
        let name = "pay,ment=executor"
        let stored = ScramCredential(hash: hash, password: Array("s3cret ü".utf8), salt: ScramCredential.randomSalt(), iterations: 4096)
        var client = ScramClient(hash: hash, username: name, password: Array("s3cret ü".utf8))
        var scram = server(ScramServer.randomNonce(), hash: hash)
        let lookup: (String) -> ScramCredential? = { $0 == name ? stored : nil }
        guard case .challenge(let first) = scram.receive(client.clientFirstMessage(), credential: lookup) else {
            Issue.record("no challenge"); return
        }
        let final = try client.receiveServerFirst(first)
        guard case .authenticated(let user, let signature) = scram.receive(final, credential: lookup) else {
            Issue.record("not authenticated"); return
        }
        #expect(user == name)
        try client.receiveServerFinal(signature)
    }

    @Test func wrongPasswordAndUnknownUserFailAlike() throws {
        func attempt(_ user: String, _ password: String) throws -> (salt: [UInt8], failure: SaslFailure?) {
            var client = ScramClient(hash: .sha256, username: user, password: Array(password.utf8), clientNonce: Self.clientNonce)
            var scram = server()
            guard case .challenge(let first) = scram.receive(client.clientFirstMessage(), credential: users) else { return ([], nil) }
            let parsed = try ScramServerFirstMessage.parse(first)
            return (parsed.salt, failure(scram.receive(try client.receiveServerFirst(first), credential: users)))
        }
        let wrong = try attempt("user", "pen")
        let unknown = try attempt("mallory", "pencil")
        let unknownAgain = try attempt("mallory", "other")
        #expect(wrong.failure?.badCredentials == true)
        #expect(unknown.failure?.badCredentials == true)
        // The unknown user's salt is stable (a real one would be) and looks like a real one.
        #expect(unknown.salt == unknownAgain.salt)
        #expect(unknown.salt.count == 32 && unknown.salt != Self.salt)
    }

    @Test func hostileClientFirstMessages() {
        let cases = [
            "p=tls-server-end-point,,n=user,r=abc",  // channel binding required
            "x,,n=user,r=abc",                       // unknown flag
            "n,,m=ext,n=user,r=abc",                 // mandatory extension
            "n,,n=,r=abc",                           // empty name
            "n,,n=us=er,r=abc",                      // bad escape
            "n,,n=user,r=",                          // empty nonce
            "n,,n=user,r=a\u{7f}b",                  // unprintable nonce
            "n,,n=user",                             // no nonce
            "n,a=admin,n=user,r=abc",                // authorization as someone else
            "n,,n=user,r=abc,tokenauth=true",        // delegation token
            "n,,n=user,r=abc,=x",                    // malformed extension
            "n,,n=user,r=abc,k=1,k=2",               // repeated extension
            "n,,n=user\u{0},r=abc",                  // NUL
            "",
            "n,,n=" + String(repeating: "u", count: 5000) + ",r=abc", // huge
        ]
        for text in cases {
            var scram = server()
            #expect(failure(scram.receive(Array(text.utf8), credential: users))?.badCredentials == false, "\(text.prefix(40))")
            #expect(scram.isFinished)
        }
        var invalidUTF8 = server()
        #expect(failure(invalidUTF8.receive([0x6e, 0x2c, 0x2c, 0xff, 0xfe], credential: users)) != nil)
    }

    @Test func hostileClientFinalMessages() {
        let nonce = Self.clientNonce + Self.serverNonce
        let proof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        let cases: [(String, Bool)] = [
            ("c=biws,r=\(Self.clientNonce)other,p=\(proof)", false),           // wrong nonce
            ("c=eSws,r=\(nonce),p=\(proof)", false),                          // binding flag changed (y,,)
            ("c=biws,r=\(nonce),p=AAAA", false),                              // short proof
            ("c=biws,r=\(nonce),p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVA=", true), // wrong proof
            ("c=biws,r=\(nonce),p=***", false),
            ("c=biws,r=\(nonce)", false),                                     // no proof
            ("r=\(nonce),c=biws,p=\(proof)", false),                          // order
        ]
        for (text, badCredentials) in cases {
            var scram = server()
            _ = scram.receive(Array(Self.clientFirst.utf8), credential: users)
            #expect(failure(scram.receive(Array(text.utf8), credential: users))?.badCredentials == badCredentials, "\(text)")
        }
    }

    @Test func saslNamesAreEscaped() throws {
        #expect(ScramMessage.encodeName("a,b=c") == "a=2Cb=3Dc")
        #expect(try ScramMessage.decodeName("a=2Cb=3Dc") == "a,b=c")
        #expect(throws: SaslFailure.self) { try ScramMessage.decodeName("a=2") }
    }

    @Test func base64IsStrict() {
        #expect(SaslBase64.encode(Array("pencil".utf8)) == "cGVuY2ls")
        #expect(SaslBase64.encode([1]) == "AQ==" && SaslBase64.encode([1, 2]) == "AQI=")
        #expect(SaslBase64.decode("AQI=") == [1, 2] && SaslBase64.decode("AQ==") == [1])
        for bad in ["AQ=", "A=Q=", "AQ==AQ==", "AQ*=", "===="] { #expect(SaslBase64.decode(bad) == nil, "\(bad)") }
    }

    @Test func credentialsRoundTripAndRejectGarbage() {
        let record = StoredScramCredentials(credentials: [
            Self.pencil,
            ScramCredential(hash: .sha512, password: Array("pencil".utf8), salt: Self.salt, iterations: 8192),
        ])
        #expect(StoredScramCredentials(decoding: record.encoded()) == record)
        #expect(record.mechanisms == [.scramSHA256, .scramSHA512])
        let bytes = record.encoded()
        for length in 0..<bytes.count { #expect(StoredScramCredentials(decoding: bytes.prefix(length)) == nil) }
        #expect(StoredScramCredentials(decoding: bytes + [0]) == nil)
        #expect(Self.pencil.verifies(password: Array("pencil".utf8)))
        #expect(!Self.pencil.verifies(password: Array("pencil ".utf8)))
    }

    @Test func plainVerifiesAgainstScramCredentials() {
        func plain(_ bytes: [UInt8]) -> Result<String, SaslFailure> {
            PlainServer.authenticate(bytes, fakeSaltKey: Self.fakeKey, credential: users)
        }
        #expect(plain(PlainClient.message(username: "user", password: Array("pencil".utf8))) == .success("user"))
        #expect(plain(Array("user\0user\0pencil".utf8)) == .success("user"))
        guard case .failure(let wrong) = plain(PlainClient.message(username: "user", password: Array("pen".utf8))),
              case .failure(let unknown) = plain(PlainClient.message(username: "mallory", password: Array("pencil".utf8))) else {
            Issue.record("PLAIN accepted bad credentials"); return
        }
        #expect(wrong.badCredentials && unknown.badCredentials)
        for hostile in ["user\0pencil", "admin\0user\0pencil", "\0\0pencil", "\0user\0", "\0" + String(repeating: "u", count: 300) + "\0pencil"] {
            guard case .failure(let failure) = plain(Array(hostile.utf8)) else { Issue.record("accepted \(hostile.prefix(20))"); continue }
            #expect(!failure.badCredentials)
        }
        // A NUL inside the password is part of the password, not a fourth field.
        #expect((try? plain(Array("\0user\0pen\0cil".utf8)).get()) == nil)
    }

    @Test func mechanismLists() {
        #expect(SaslMechanism.list("SCRAM-SHA-512, plain") == [.scramSHA512, .plain])
        #expect(SaslMechanism.list("SCRAM-SHA-1") == nil)
        #expect(SaslMechanism.list(",") == nil)
    }
}
