import Foundation
import KafkaClient
#if canImport(Glibc)
import Glibc
#endif

/// A real `paynode broker` child process on free ports with its own data directory, for
/// tests against the wire protocol. The binary is `PAYNODE_BIN`, else the `paynode` found by
/// walking up from the test bundle (the build directory holds both).
final class BrokerProcess: @unchecked Sendable {
    let dataDirectory: URL
    let process = Process()
    private let output = Pipe()
    private(set) var kafkaPort = 0
    private(set) var httpPort = 0

    var address: KafkaBrokerAddress { KafkaBrokerAddress(host: "127.0.0.1", port: kafkaPort) }
    var bootstrap: String { address.description }

    /// Starts a broker; `kafkaPort` 0 picks a free port, `dataDirectory` nil makes a fresh one.
    init(kafkaPort: Int = 0, dataDirectory: URL? = nil, extraArguments: [String] = []) throws {
        let directory = dataDirectory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("paynode-client-tests-\(UUID().uuidString)")
        self.dataDirectory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let log = directory.appendingPathExtension("log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: try Self.paynodeBinary())
        process.arguments = ["broker", "--data-dir", directory.appendingPathComponent("data").path,
                             "--kafka-listen", "127.0.0.1:\(kafkaPort)", "--http-listen", "127.0.0.1:0"] + extraArguments
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        try waitUntilReady(timeout: .seconds(60))
    }

    static func paynodeBinary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["PAYNODE_BIN"] { return path }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("paynode")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
               FileManager.default.isExecutableFile(atPath: candidate.path) {
                return candidate.path
            }
            directory.deleteLastPathComponent()
        }
        throw BrokerProcessError("no paynode binary above \(CommandLine.arguments[0]); build it or set PAYNODE_BIN")
    }

    private func waitUntilReady(timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        let descriptor = output.fileHandleForReading.fileDescriptor
        var buffer: [UInt8] = []
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = read(descriptor, &chunk, chunk.count)
            guard count > 0 else { throw BrokerProcessError("paynode broker exited before it was ready; see \(dataDirectory.path).log") }
            buffer.append(contentsOf: chunk[0..<count])
            let text = String(decoding: buffer, as: UTF8.self)
            for line in text.split(separator: "\n") where line.contains("paynode broker ready") {
                for field in line.split(separator: " ") {
                    let parts = field.split(separator: "=")
                    guard parts.count == 2, let port = Int(parts[1]) else { continue }
                    if parts[0] == "kafka" { kafkaPort = port }
                    if parts[0] == "http" { httpPort = port }
                }
                if kafkaPort > 0 { return }
            }
        }
        throw BrokerProcessError("paynode broker was not ready within \(timeout)")
    }

    /// SIGTERM and wait (the data directory stays, for a restart).
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// Stops the broker and deletes its data directory.
    func remove() {
        stop()
        try? FileManager.default.removeItem(at: dataDirectory)
        try? FileManager.default.removeItem(at: dataDirectory.appendingPathExtension("log"))
    }

    deinit { if process.isRunning { process.terminate(); process.waitUntilExit() } }
}

struct BrokerProcessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs an external tool and returns its stdout; throws with its stderr when it fails.
func runTool(_ executable: String, _ arguments: [String], input: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    let stdout = Pipe(), stderr = Pipe(), stdin = Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    let out = stdout.fileHandleForReading.readDataToEndOfFile()
    let err = stderr.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw BrokerProcessError("\(executable) \(arguments.joined(separator: " ")) failed: \(String(decoding: err, as: UTF8.self))")
    }
    return String(decoding: out, as: UTF8.self)
}

func toolExists(_ name: String) -> Bool {
    (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").contains {
        FileManager.default.isExecutableFile(atPath: "\($0)/\(name)")
    }
}
