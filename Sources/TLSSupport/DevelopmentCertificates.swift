import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SwiftASN1
import X509

/// A local certificate authority and the certificates it signs, for development and tests:
/// `paynode certs init` and `paynode dev` write them so that TLS can be tried without a PKI.
/// Keys are P-256; every file is PEM and every key file is readable by its owner only.
public enum DevelopmentCertificates {
    /// The files of one directory written by `write(into:)`.
    public struct Layout: Sendable, Equatable {
        public var directory: String
        public var caCertificate: String { directory + "/ca.pem" }
        public var caKey: String { directory + "/ca-key.pem" }
        public var serverCertificate: String { directory + "/server.pem" }
        public var serverKey: String { directory + "/server-key.pem" }
        public var clientCertificate: String { directory + "/client.pem" }
        public var clientKey: String { directory + "/client-key.pem" }

        public init(directory: String) {
            self.directory = directory
        }

        var all: [String] { [caCertificate, caKey, serverCertificate, serverKey, clientCertificate, clientKey] }

        /// Whether a full set is already there (`paynode dev` reuses it).
        public var isComplete: Bool { all.allSatisfy { FileManager.default.fileExists(atPath: $0) } }
    }

    /// One issued certificate with its key, both PEM.
    public struct Issued: Sendable {
        public var certificatePEM: String
        public var privateKeyPEM: String
        public var certificate: Certificate
    }

    /// A self-signed CA certificate able to sign leaf certificates only (path length 0).
    public static func makeAuthority(commonName: String = "paynode development CA", now: Date = Date(),
                                     validity: TimeInterval = 10 * 366 * 86_400) throws -> Issued {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName) }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(validity),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
            },
            issuerPrivateKey: .init(key))
        return Issued(certificatePEM: try certificate.serializeAsPEM().pemString, privateKeyPEM: key.pemRepresentation,
                      certificate: certificate)
    }

    /// A leaf certificate signed by `authority`: for servers, `dnsNames` and `ipAddresses` become
    /// its subject alternative names (what clients check the host against); it may also be used
    /// as a client certificate, whose subject CN is the principal on mutual TLS listeners.
    /// `notValidBefore`/`validity` can make an expired one, for tests of clients that must refuse it.
    public static func issue(commonName: String, dnsNames: [String] = [], ipAddresses: [String] = [],
                             authority: Issued, authorityKeyPEM: String, notValidBefore: Date = Date().addingTimeInterval(-300),
                             validity: TimeInterval = 825 * 86_400) throws -> Issued {
        let authorityKey = try P256.Signing.PrivateKey(pemRepresentation: authorityKeyPEM)
        let key = P256.Signing.PrivateKey()
        var alternativeNames: [GeneralName] = dnsNames.map { .dnsName($0) }
        for address in ipAddresses {
            guard let bytes = ipAddressBytes(address) else { throw TLSConfigurationError("\(address) is not an IP address") }
            alternativeNames.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: notValidBefore, notValidAfter: notValidBefore.addingTimeInterval(validity),
            issuer: authority.certificate.subject, subject: try DistinguishedName { CommonName(commonName) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                if !alternativeNames.isEmpty { SubjectAlternativeNames(alternativeNames) }
            },
            issuerPrivateKey: .init(authorityKey))
        return Issued(certificatePEM: try certificate.serializeAsPEM().pemString, privateKeyPEM: key.pemRepresentation,
                      certificate: certificate)
    }

    /// Writes a CA, a server certificate for localhost, 127.0.0.1 and ::1, and a client
    /// certificate (CN `clientName`) into `layout.directory`, creating it (0700). Refuses to
    /// replace existing files unless `overwrite`: a CA that clients already trust is not
    /// thrown away by accident.
    public static func write(into layout: Layout, clientName: String = "dev-client", overwrite: Bool = false) throws {
        let manager = FileManager.default
        if !overwrite, let existing = layout.all.first(where: { manager.fileExists(atPath: $0) }) {
            throw TLSConfigurationError("\(existing) exists; pass --force to replace the certificates in \(layout.directory)")
        }
        try manager.createDirectory(atPath: layout.directory, withIntermediateDirectories: true,
                                    attributes: [.posixPermissions: 0o700])
        let authority = try makeAuthority()
        let server = try issue(commonName: "localhost", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"],
                               authority: authority, authorityKeyPEM: authority.privateKeyPEM)
        let client = try issue(commonName: clientName, authority: authority, authorityKeyPEM: authority.privateKeyPEM)
        try writeFile(layout.caKey, authority.privateKeyPEM, secret: true)
        try writeFile(layout.caCertificate, authority.certificatePEM, secret: false)
        try writeFile(layout.serverKey, server.privateKeyPEM, secret: true)
        try writeFile(layout.serverCertificate, server.certificatePEM, secret: false)
        try writeFile(layout.clientKey, client.privateKeyPEM, secret: true)
        try writeFile(layout.clientCertificate, client.certificatePEM, secret: false)
    }

    /// Keys are created 0600 by open(2) itself, so no other user can read them even for an instant.
    public static func writeFile(_ path: String, _ text: String, secret: Bool) throws {
        let mode: mode_t = secret ? 0o600 : 0o644
        unlink(path)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw TLSConfigurationError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if result < 0, errno == EINTR { continue }
            guard result > 0 else { throw TLSConfigurationError("cannot write \(path): \(String(cString: strerror(errno)))") }
            written += result
        }
        // The umask may have narrowed a certificate's mode; a key's can only have got narrower.
        fchmod(descriptor, mode)
    }

    static func ipAddressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
