import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Testing
import X509
@testable import TLSSupport

@Suite struct DevelopmentCertificateTests {
    private func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "paynode-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test func writesPEMFilesWithPrivateKeys() throws {
        let layout = DevelopmentCertificates.Layout(directory: try temporaryDirectory() + "/certs")
        try DevelopmentCertificates.write(into: layout)
        #expect(layout.isComplete)
        for key in [layout.caKey, layout.serverKey, layout.clientKey] {
            #expect(try mode(key) == 0o600, "\(key) must be readable by its owner only")
            #expect(try String(contentsOfFile: key, encoding: .utf8).contains("PRIVATE KEY-----"))
        }
        #expect(try String(contentsOfFile: layout.serverCertificate, encoding: .utf8).hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(throws: TLSConfigurationError.self, "an existing CA is not replaced by accident") {
            try DevelopmentCertificates.write(into: layout)
        }
        try DevelopmentCertificates.write(into: layout, overwrite: true)
    }

    @Test func serverCertificateNamesLocalhostAndChainsToTheCA() throws {
        let authority = try DevelopmentCertificates.makeAuthority()
        let server = try DevelopmentCertificates.issue(commonName: "localhost", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"],
                                                       authority: authority, authorityKeyPEM: authority.privateKeyPEM)
        #expect(server.certificate.issuer == authority.certificate.subject)
        #expect(authority.certificate.publicKey.isValidSignature(server.certificate.signature, for: server.certificate))
        let names = try #require(try server.certificate.extensions.subjectAlternativeNames)
        #expect(names.contains(.dnsName("localhost")))
        #expect(names.count == 3)
        #expect(try server.certificate.extensions.basicConstraints == .notCertificateAuthority)
        #expect(try authority.certificate.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        let pem = try NIOSSLCertificate(bytes: Array(server.certificatePEM.utf8), format: .pem)
        #expect(subjectCommonName(of: pem) == "localhost")
    }

    @Test func rejectsANonAddressAsIPName() throws {
        let authority = try DevelopmentCertificates.makeAuthority()
        #expect(throws: TLSConfigurationError.self) {
            try DevelopmentCertificates.issue(commonName: "x", ipAddresses: ["not-an-ip"], authority: authority,
                                              authorityKeyPEM: authority.privateKeyPEM)
        }
    }

    // MARK: real handshakes over loopback

    @Test func clientsVerifyTheServerByIPAndByName() async throws {
        let layout = DevelopmentCertificates.Layout(directory: try temporaryDirectory())
        try DevelopmentCertificates.write(into: layout)
        let server = try ReloadableTLSContext(files: ServerTLSFiles(certificateChainFile: layout.serverCertificate,
                                                                    privateKeyFile: layout.serverKey))
        let trusting = try ClientTLSFiles(caFile: layout.caCertificate).makeContext()
        try await TLSTestServer.withServer(context: server) { listener in
            let port = listener.port
            _ = try await TLSTestServer.handshake(port: port, context: trusting, serverHostname: nil)
            _ = try await TLSTestServer.handshake(port: port, context: trusting, serverHostname: "localhost")
            let otherCA = DevelopmentCertificates.Layout(directory: try temporaryDirectory())
            try DevelopmentCertificates.write(into: otherCA)
            let stranger = try ClientTLSFiles(caFile: otherCA.caCertificate).makeContext()
            await #expect(throws: (any Error).self, "a client that trusts another CA refuses the server") {
                _ = try await TLSTestServer.handshake(port: port, context: stranger, serverHostname: nil)
            }
        }
    }

    @Test func aCertificateForAnotherNameIsRefused() async throws {
        // NIOSSL also accepts an IP SAN matching the address connected to, whatever the name
        // asked for; this certificate has none, so only its DNS name can match.
        let directory = try temporaryDirectory()
        let authority = try DevelopmentCertificates.makeAuthority()
        let named = try DevelopmentCertificates.issue(commonName: "payments.internal", dnsNames: ["payments.internal"],
                                                      authority: authority, authorityKeyPEM: authority.privateKeyPEM)
        try DevelopmentCertificates.writeFile(directory + "/ca.pem", authority.certificatePEM, secret: false)
        try DevelopmentCertificates.writeFile(directory + "/named.pem", named.certificatePEM, secret: false)
        try DevelopmentCertificates.writeFile(directory + "/named-key.pem", named.privateKeyPEM, secret: true)
        let server = try ReloadableTLSContext(files: ServerTLSFiles(certificateChainFile: directory + "/named.pem",
                                                                    privateKeyFile: directory + "/named-key.pem"))
        let client = try ClientTLSFiles(caFile: directory + "/ca.pem").makeContext()
        try await TLSTestServer.withServer(context: server) { listener in
            _ = try await TLSTestServer.handshake(port: listener.port, context: client, serverHostname: "payments.internal")
            await #expect(throws: (any Error).self, "the certificate does not name example.com") {
                _ = try await TLSTestServer.handshake(port: listener.port, context: client, serverHostname: "example.com")
            }
            await #expect(throws: (any Error).self, "the certificate does not name 127.0.0.1") {
                _ = try await TLSTestServer.handshake(port: listener.port, context: client, serverHostname: nil)
            }
        }
    }

    @Test func expiredServerCertificateIsRefused() async throws {
        let directory = try temporaryDirectory()
        let authority = try DevelopmentCertificates.makeAuthority()
        let expired = try DevelopmentCertificates.issue(commonName: "localhost", ipAddresses: ["127.0.0.1"], authority: authority,
                                                        authorityKeyPEM: authority.privateKeyPEM,
                                                        notValidBefore: Date().addingTimeInterval(-10 * 86_400), validity: 86_400)
        try DevelopmentCertificates.writeFile(directory + "/ca.pem", authority.certificatePEM, secret: false)
        try DevelopmentCertificates.writeFile(directory + "/expired.pem", expired.certificatePEM, secret: false)
        try DevelopmentCertificates.writeFile(directory + "/expired-key.pem", expired.privateKeyPEM, secret: true)
        let server = try ReloadableTLSContext(files: ServerTLSFiles(certificateChainFile: directory + "/expired.pem",
                                                                    privateKeyFile: directory + "/expired-key.pem"))
        let client = try ClientTLSFiles(caFile: directory + "/ca.pem").makeContext()
        try await TLSTestServer.withServer(context: server) { listener in
            let port = listener.port
            await #expect(throws: (any Error).self) {
                _ = try await TLSTestServer.handshake(port: port, context: client, serverHostname: nil)
            }
        }
    }

    @Test func reloadServesTheNewCertificateAndKeepsTheOldOnABadFile() async throws {
        let layout = DevelopmentCertificates.Layout(directory: try temporaryDirectory())
        try DevelopmentCertificates.write(into: layout)
        let caPEM = try String(contentsOfFile: layout.caCertificate, encoding: .utf8)
        let caKeyPEM = try String(contentsOfFile: layout.caKey, encoding: .utf8)
        let authority = DevelopmentCertificates.Issued(certificatePEM: caPEM, privateKeyPEM: caKeyPEM,
                                                       certificate: try Certificate(pemEncoded: caPEM))
        let context = try ReloadableTLSContext(files: ServerTLSFiles(certificateChainFile: layout.serverCertificate,
                                                                     privateKeyFile: layout.serverKey))
        let client = try ClientTLSFiles(caFile: layout.caCertificate).makeContext()
        let logger = Logger(label: "test")
        try await TLSTestServer.withServer(context: context) { listener in
            let port = listener.port
            let first = try await TLSTestServer.handshake(port: port, context: client, serverHostname: nil)

            // A half-written rotation: the key does not exist yet. The old certificate stays.
            try FileManager.default.removeItem(atPath: layout.serverKey)
            #expect(!context.reload(logger: logger))
            #expect(try await TLSTestServer.handshake(port: port, context: client, serverHostname: nil) == first)

            let next = try DevelopmentCertificates.issue(commonName: "localhost", ipAddresses: ["127.0.0.1"], authority: authority,
                                                         authorityKeyPEM: caKeyPEM)
            try DevelopmentCertificates.writeFile(layout.serverCertificate, next.certificatePEM, secret: false)
            try DevelopmentCertificates.writeFile(layout.serverKey, next.privateKeyPEM, secret: true)
            #expect(context.reload(logger: logger))
            let second = try await TLSTestServer.handshake(port: port, context: client, serverHostname: nil)
            #expect(second != first)
            #expect(second == (try NIOSSLCertificate(bytes: Array(next.certificatePEM.utf8), format: .pem)).serialNumber)
        }
    }

    @Test func mutualTLSRequiredRefusesAClientWithoutCertificateAndNamesOneWithIt() async throws {
        let layout = DevelopmentCertificates.Layout(directory: try temporaryDirectory())
        try DevelopmentCertificates.write(into: layout, clientName: "executor")
        let context = try ReloadableTLSContext(files: ServerTLSFiles(certificateChainFile: layout.serverCertificate,
                                                                     privateKeyFile: layout.serverKey, clientCAFile: layout.caCertificate,
                                                                     clientAuthentication: .required))
        let anonymous = try ClientTLSFiles(caFile: layout.caCertificate).makeContext()
        let withCertificate = try ClientTLSFiles(caFile: layout.caCertificate, certificateChainFile: layout.clientCertificate,
                                                 privateKeyFile: layout.clientKey).makeContext()
        try await TLSTestServer.withServer(context: context) { listener in
            let port = listener.port
            await #expect(throws: (any Error).self) {
                // TLS 1.3 clients learn of the refusal only when they next read.
                _ = try await TLSTestServer.handshake(port: port, context: anonymous, serverHostname: nil, echo: true)
            }
            _ = try await TLSTestServer.handshake(port: port, context: withCertificate, serverHostname: nil, echo: true)
            #expect(listener.lastPeerName.withLock { $0 } == "executor")
        }
    }
}

@Suite struct TLSHandshakeDeadlineTests {
    @Test func aConnectionThatNeverHandshakesIsClosed() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TLSHandshakeDeadline(timeout: .milliseconds(200)))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { server.close(promise: nil) }
        let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: server.localAddress?.port ?? 0).get()
        let started = ContinuousClock.now
        // Nothing is sent: the server must close on its own, long before this test's 20 s.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.closeFuture.get() }
            group.addTask {
                try await Task.sleep(for: .seconds(20))
                throw CancellationError()
            }
            try await group.next()
            group.cancelAll()
        }
        #expect(ContinuousClock.now - started < .seconds(20))
        #expect(!client.isActive)
    }
}
