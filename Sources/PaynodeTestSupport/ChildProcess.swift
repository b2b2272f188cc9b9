import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process whose stdout is read line by line, for tests of real processes: spawn, wait
/// for a line (a `ready` line, a progress line), then stop it with SIGTERM or SIGKILL.
package final class ChildProcess: @unchecked Sendable {
    package let process = Process()
    private let output = Pipe()
    private var buffer: [UInt8] = []
    /// Every complete line the child wrote to stdout so far.
    package private(set) var lines: [String] = []

    /// Spawns `executable`; its stderr goes to `standardError` (the test's own by default).
    package init(executable: URL, arguments: [String], standardError: FileHandle = .standardError) throws {
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = standardError
        try process.run()
    }

    /// Reads until a line satisfying `matches` arrives and returns it; throws when the child
    /// closes its stdout (it exited) or `timeout` passes first.
    @discardableResult
    package func waitForLine(timeout: Duration, description: String, where matches: (String) -> Bool) throws -> String {
        let deadline = ContinuousClock.now + timeout
        var checked = 0
        while true {
            if let line = lines[checked...].first(where: matches) { return line }
            checked = lines.count
            guard ContinuousClock.now < deadline else { throw TestSupportError("no \(description) line within \(timeout)") }
            guard readAvailable(waitMilliseconds: 100) else {
                process.waitUntilExit()
                throw TestSupportError("\(process.executableURL?.lastPathComponent ?? "child") exited (status \(process.terminationStatus)) before its \(description) line")
            }
        }
    }

    /// Reads until a line equal to `expected` arrives.
    package func waitForLine(_ expected: String, timeout: Duration) throws {
        try waitForLine(timeout: timeout, description: "'\(expected)'") { $0 == expected }
    }

    /// Reads whatever is available within `waitMilliseconds`; false at end of file.
    @discardableResult
    package func readAvailable(waitMilliseconds: Int32) -> Bool {
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

    /// SIGTERM, and wait until it exits.
    package func terminate() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// SIGKILL, then collect every line the child wrote before it died.
    package func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        while readAvailable(waitMilliseconds: 50) {}
    }

    deinit { terminate() }
}
