import Foundation

/// The package's built executables, for tests that run them: the directory beside the test
/// bundle holds them all (`swift build --build-tests` builds them).
package enum BuiltProducts {
    /// `PAYNODE_BIN_DIR/<name>`, else `<name>` in the nearest directory above the test bundle
    /// that holds it.
    package static func executable(_ name: String) throws -> URL {
        if let directory = ProcessInfo.processInfo.environment["PAYNODE_BIN_DIR"] {
            return try checked(URL(fileURLWithPath: directory).appendingPathComponent(name))
        }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while directory.pathComponents.count > 1 {
            let candidate = directory.appendingPathComponent(name)
            if isExecutableFile(candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        throw TestSupportError("no \(name) above \(CommandLine.arguments[0]): run `swift build --build-tests` first (make test does)")
    }

    /// The `paynode` binary: `PAYNODE_BIN` (as the compat tests use it), else the built one.
    package static func paynode() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["PAYNODE_BIN"] { return URL(fileURLWithPath: path) }
        return try executable("paynode")
    }

    private static func checked(_ url: URL) throws -> URL {
        guard isExecutableFile(url) else { throw TestSupportError("\(url.path) is not built: run `swift build --build-tests` first (make test does)") }
        return url
    }

    private static func isExecutableFile(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
            && FileManager.default.isExecutableFile(atPath: url.path)
    }
}
