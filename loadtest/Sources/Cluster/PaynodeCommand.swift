import Foundation

/// Runs one `paynode` admin command (`users add`, `apikeys create`, ...) to completion.
enum PaynodeCommand {
    /// The exit status and what the command printed: standard output, and standard error too
    /// when `withErrors` (for a failure's message), else standard error is dropped.
    static func run(_ binary: String, _ arguments: [String], withErrors: Bool) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = withErrors ? output : FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
