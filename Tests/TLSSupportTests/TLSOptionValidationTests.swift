import Testing
@testable import TLSSupport

@Suite struct TLSOptionValidationTests {
    @Test func noListenerUsesTLSAndNoFlagsIsPlaintext() throws {
        #expect(try ServerTLSFiles.validated(certificateChainFile: nil, privateKeyFile: nil, clientCAFile: nil,
                                             clientAuthentication: nil, needed: false) == nil)
    }

    @Test func tlsFlagsWithoutATLSListenerAreRefused() {
        #expect(throws: TLSConfigurationError.self) {
            try ServerTLSFiles.validated(certificateChainFile: "c.pem", privateKeyFile: "k.pem", clientCAFile: nil,
                                         clientAuthentication: nil, needed: false)
        }
    }

    @Test func aTLSListenerNeedsCertificateAndKey() {
        #expect(throws: TLSConfigurationError.self) {
            try ServerTLSFiles.validated(certificateChainFile: nil, privateKeyFile: "k.pem", clientCAFile: nil,
                                         clientAuthentication: nil, needed: true)
        }
        #expect(throws: TLSConfigurationError.self) {
            try ServerTLSFiles.validated(certificateChainFile: "c.pem", privateKeyFile: nil, clientCAFile: nil,
                                         clientAuthentication: nil, needed: true)
        }
        #expect(throws: TLSConfigurationError.self) {
            try ServerTLSFiles.validated(certificateChainFile: "", privateKeyFile: "k.pem", clientCAFile: nil,
                                         clientAuthentication: nil, needed: true)
        }
    }

    @Test func clientAuthenticationValues() throws {
        let required = try ServerTLSFiles.validated(certificateChainFile: "c.pem", privateKeyFile: "k.pem", clientCAFile: "ca.pem",
                                                    clientAuthentication: nil, needed: true)
        #expect(required?.clientAuthentication == .required, "a client CA alone means mutual TLS is wanted")
        let requested = try ServerTLSFiles.validated(certificateChainFile: "c.pem", privateKeyFile: "k.pem", clientCAFile: "ca.pem",
                                                     clientAuthentication: "REQUESTED", needed: true)
        #expect(requested?.clientAuthentication == .requested)
        let none = try ServerTLSFiles.validated(certificateChainFile: "c.pem", privateKeyFile: "k.pem", clientCAFile: nil,
                                                clientAuthentication: "none", needed: true)
        #expect(none?.clientAuthentication == TLSClientAuthentication.none)
        #expect(throws: TLSConfigurationError.self) {
            try ServerTLSFiles.validated(certificateChainFile: "c.pem", privateKeyFile: "k.pem", clientCAFile: "ca.pem",
                                         clientAuthentication: "sometimes", needed: true)
        }
        #expect(throws: TLSConfigurationError.self, "client certificates cannot be verified without a CA") {
            try ServerTLSFiles.validated(certificateChainFile: "c.pem", privateKeyFile: "k.pem", clientCAFile: nil,
                                         clientAuthentication: "required", needed: true)
        }
        #expect(throws: TLSConfigurationError.self, "a client CA that is never used is a mistake") {
            try ServerTLSFiles.validated(certificateChainFile: "c.pem", privateKeyFile: "k.pem", clientCAFile: "ca.pem",
                                         clientAuthentication: "none", needed: true)
        }
    }

    @Test func clientCertificateNeedsItsKey() throws {
        #expect(try ClientTLSFiles.validated(caFile: "ca.pem", certificateChainFile: nil, privateKeyFile: nil).caFile == "ca.pem")
        #expect(throws: TLSConfigurationError.self) {
            try ClientTLSFiles.validated(caFile: nil, certificateChainFile: "c.pem", privateKeyFile: nil)
        }
        #expect(throws: TLSConfigurationError.self) {
            try ClientTLSFiles.validated(caFile: nil, certificateChainFile: nil, privateKeyFile: "k.pem")
        }
    }

    @Test func missingFilesAreNamedInTheError() {
        let files = ServerTLSFiles(certificateChainFile: "/nonexistent/server.pem", privateKeyFile: "/nonexistent/key.pem")
        do {
            _ = try ReloadableTLSContext(files: files)
            Issue.record("a missing certificate file must not load")
        } catch {
            #expect("\(error)".contains("/nonexistent/server.pem"))
        }
    }
}
