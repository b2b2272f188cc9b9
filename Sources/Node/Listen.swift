import ArgumentParser
import Foundation

/// A `HOST:PORT` listener address; port 0 asks the OS for a free port.
struct ListenAddress: ExpressibleByArgument, Sendable, CustomStringConvertible {
    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"), let port = Int(argument[argument.index(after: colon)...]),
              (0...65535).contains(port) else { return nil }
        var host = String(argument[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The flag's value, else the environment variable's, else the default; a malformed
    /// environment value is an error naming the variable.
    static func resolve(_ flag: ListenAddress?, environment variable: String, default fallback: ListenAddress) throws -> ListenAddress {
        if let flag { return flag }
        guard let value = ProcessInfo.processInfo.environment[variable] else { return fallback }
        guard let parsed = ListenAddress(argument: value) else {
            throw ValidationError("\(variable)=\(value) is not HOST:PORT")
        }
        return parsed
    }
}

/// Environment fallbacks for flags (`PAYNODE_<FLAG>`), since ArgumentParser reads only argv.
enum EnvironmentOption {
    static func string(_ flag: String?, _ variable: String) -> String? {
        flag ?? ProcessInfo.processInfo.environment[variable]
    }

    static func integer(_ flag: Int?, _ variable: String, default fallback: Int) throws -> Int {
        if let flag { return flag }
        guard let value = ProcessInfo.processInfo.environment[variable] else { return fallback }
        guard let parsed = Int(value) else { throw ValidationError("\(variable)=\(value) is not an integer") }
        return parsed
    }

    static func bool(_ flag: Bool?, _ variable: String, default fallback: Bool) throws -> Bool {
        if let flag { return flag }
        guard let value = ProcessInfo.processInfo.environment[variable]?.lowercased() else { return fallback }
        switch value {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ValidationError("\(variable)=\(value) is not a boolean")
        }
    }
}
