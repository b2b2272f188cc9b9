import ArgumentParser
import TLSSupport

/// `paynode certs init`: a local CA and certificates signed by it, to try TLS without a PKI.
struct CertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Development certificates for the TLS listeners.",
        subcommands: [Init.self]
    )

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Write a local CA, a server certificate for localhost/127.0.0.1/::1 and a client certificate (PEM, keys 0600).")

        @Option(name: .customLong("dir"), help: "Directory to write ca.pem, server.pem, client.pem and their -key.pem files into.")
        var directory: String

        @Option(name: .customLong("client-name"), help: "Subject CN of the client certificate: its principal on a mutual TLS listener (default dev-client).")
        var clientName = "dev-client"

        @Flag(name: .customLong("force"), help: "Replace certificates already in --dir (clients that trust the old CA must get the new ca.pem).")
        var force = false

        func run() throws {
            let layout = DevelopmentCertificates.Layout(directory: directory)
            do {
                try DevelopmentCertificates.write(into: layout, clientName: clientName, overwrite: force)
            } catch let error as TLSConfigurationError {
                throw ValidationError(error.message)
            }
            print(Self.usage(layout))
        }

        static func usage(_ layout: DevelopmentCertificates.Layout) -> String {
            """
            wrote a development CA and certificates to \(layout.directory)
              serve:   paynode broker --kafka-security-protocol SSL --tls-cert-file \(layout.serverCertificate) --tls-key-file \(layout.serverKey)
              kcat:    kcat -b 127.0.0.1:9092 -X security.protocol=SSL -X ssl.ca.location=\(layout.caCertificate) -L
              mTLS:    add --tls-client-ca-file \(layout.caCertificate) to the broker, and to kcat
                       -X ssl.certificate.location=\(layout.clientCertificate) -X ssl.key.location=\(layout.clientKey)
            """
        }
    }
}
