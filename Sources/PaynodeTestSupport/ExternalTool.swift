import Foundation

/// Runs an external tool found on PATH and returns its stdout; throws with its stderr when it
/// fails. Stdout and stderr are drained side by side, so a tool that writes much to one while
/// we read the other cannot fill a pipe and hang.
package func runTool(_ executable: String, _ arguments: [String], input: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    let stdout = Pipe(), stderr = Pipe(), stdin = Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    process.standardInput = stdin
    try process.run()
    let errors = PipeDrain(stderr.fileHandleForReading)
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    let out = stdout.fileHandleForReading.readDataToEndOfFile()
    let err = errors.wait()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw TestSupportError("\(executable) \(arguments.joined(separator: " ")) failed: \(String(decoding: err, as: UTF8.self))")
    }
    return String(decoding: out, as: UTF8.self)
}

/// The same from async code, waiting on a thread of its own: blocking a thread of Swift's
/// cooperative pool (two on a 2-core machine) while the tool talks to an in-process broker,
/// which needs that pool to answer, starved the broker and failed the tool.
package func runTool(_ executable: String, _ arguments: [String], input: String? = nil) async throws -> String {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            continuation.resume(with: Result { try runTool(executable, arguments, input: input) as String })
        }.start()
    }
}

/// Reads a pipe to its end on a thread of its own.
private final class PipeDrain: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }.start()
    }

    /// The pipe's bytes, once its writer closed it. `data` is written before `done` is
    /// signalled and read only after, so the semaphore orders the two threads' accesses.
    func wait() -> Data {
        done.wait()
        return data
    }
}

/// Whether `name` is an executable on PATH.
package func toolExists(_ name: String) -> Bool {
    (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").contains {
        FileManager.default.isExecutableFile(atPath: "\($0)/\(name)")
    }
}
