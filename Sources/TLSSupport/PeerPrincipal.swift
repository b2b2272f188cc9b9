import NIOSSL
import X509

/// The common name of a verified client certificate's subject, which mutual TLS listeners take
/// as the connection's principal (Kafka's default ssl.principal.mapping.rules take the whole
/// DN; the CN alone is what ACLs here name). Nil when the certificate has no CN or cannot be read.
public func subjectCommonName(of certificate: NIOSSLCertificate) -> String? {
    guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else { return nil }
    for relativeName in parsed.subject.reversed() {
        for attribute in relativeName where attribute.type == .RDNAttributeType.commonName {
            let text = String(describing: attribute.value)
            if !text.isEmpty { return text }
        }
    }
    return nil
}
