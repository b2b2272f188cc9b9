import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real child process (the `LogStoreCrashTest` executable) whose stdout is read line by line,
/// and which the test kills with SIGKILL.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    private let output = Pipe()
    private var buffer = Data()
    private(set) var lines: [String] = []

    init(executable: String = "LogStoreCrashTest", arguments: [String]) throws {
        let url = builtProductsDirectory().appendingPathComponent(executable)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw ChildProcessError("\(url.path) is not built: run `swift build --build-tests` first (make test does)")
        }
        process.executableURL = url
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
    }

    /// Reads until a line equal to `expected` arrives.
    func waitForLine(_ expected: String, timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        while !lines.contains(expected) {
            guard ContinuousClock.now < deadline else { throw ChildProcessError("no '\(expected)' line within \(timeout)") }
            guard readAvailable(waitMilliseconds: 100) || process.isRunning else {
                throw ChildProcessError("child exited (status \(process.terminationStatus)) before '\(expected)'")
            }
        }
    }

    /// Reads whatever is available within `waitMilliseconds`; false at end of file.
    @discardableResult
    func readAvailable(waitMilliseconds: Int32) -> Bool {
        let descriptor = output.fileHandleForReading.fileDescriptor
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, waitMilliseconds) > 0 else { return true }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = read(descriptor, &chunk, chunk.count)
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[0..<count])
        while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
            buffer.removeSubrange(buffer.startIndex...newline)
        }
        return true
    }

    /// SIGKILL, then collect every line the child wrote before it died.
    func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        while readAvailable(waitMilliseconds: 50) {}
    }
}

struct ChildProcessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
