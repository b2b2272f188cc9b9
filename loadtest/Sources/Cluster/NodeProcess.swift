import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The ports a node printed on its `ready` line (`paynode service ready http=8080 kafka=9092`).
struct ReadyPorts: Sendable, Hashable {
    var http: Int?
    var kafka: Int?

    /// Parses `key=value` pairs after the word `ready`; nil when `line` is not a ready line of `node`.
    static func parse(_ line: String, node: String) -> ReadyPorts? {
        guard let range = line.range(of: "paynode \(node) ready") else { return nil }
        var ports = ReadyPorts()
        for pair in line[range.upperBound...].split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let port = Int(parts[1]) else { continue }
            if parts[0] == "http" { ports.http = port }
            if parts[0] == "kafka" { ports.kafka = port }
        }
        return ports
    }
}

struct NodeProcessError: Error, CustomStringConvertible {
    var description: String
}

/// One `paynode service` or `paynode executor` child process that can be SIGKILLed and started
/// again with the same data directory. Its stdout (the ready line) and stderr (logs) go to
/// `logPath`; `start` returns once the ready line appeared, with the ports it names.
final class NodeProcess: Sendable {
    let role: String
    let binary: String
    let logPath: String
    private let state = Mutex(State())

    private struct State {
        var pid: pid_t = 0
        var starts = 0
        var readyTimes: [Double] = []
    }

    init(role: String, binary: String, logPath: String) {
        self.role = role
        self.binary = binary
        self.logPath = logPath
    }

    var pid: pid_t { state.withLock { $0.pid } }
    var starts: Int { state.withLock { $0.starts } }
    /// Seconds from spawn to the ready line, for every start.
    var readyTimes: [Double] { state.withLock { $0.readyTimes } }

    /// Spawns the node and waits (up to `timeout`) for its ready line.
    @discardableResult
    func start(arguments: [String], timeout: Duration = .seconds(60)) async throws -> ReadyPorts {
        let started = ContinuousClock.now
        let output = try LogSink(path: logPath)
        output.write("---- loadtest: \(role) start \(starts + 1): \(binary) \(arguments.joined(separator: " "))\n")
        var stdoutPipe: [Int32] = [0, 0]
        guard pipe(&stdoutPipe) == 0 else { throw NodeProcessError(description: "pipe() failed: errno \(errno)") }
        // Close-on-exec, so later children (the other node, restarts) do not inherit this pipe
        // and keep its reader from seeing end-of-file; posix_spawn's dup2 clears it on fd 1.
        for descriptor in stdoutPipe { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        let pid = try Self.spawn(binary, [role] + arguments, stdout: stdoutPipe[1], stderr: output.descriptor)
        close(stdoutPipe[1])
        state.withLock {
            $0.pid = pid
            $0.starts += 1
        }
        let role = self.role
        let ready = ReadyWaiter()
        // A thread of its own drains stdout for the node's lifetime (blocking reads), so a
        // chatty node never blocks on a full pipe, and reports the ready line once.
        let readFD = stdoutPipe[0]
        Thread.detachNewThread {
            var pending = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(readFD, &buffer, buffer.count)
                if count <= 0 { break }
                output.write(bytes: buffer[0..<count])
                pending.append(contentsOf: buffer[0..<count])
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[..<newline], as: UTF8.self)
                    pending.removeSubrange(...newline)
                    if let ports = ReadyPorts.parse(line, node: role) { ready.succeed(ports) }
                }
            }
            close(readFD)
            ready.fail(NodeProcessError(description: "\(role) exited before it was ready; see its log"))
        }
        let ports = try await ready.wait(timeout: timeout, role: role)
        let seconds = (ContinuousClock.now - started).seconds
        state.withLock { $0.readyTimes.append(seconds) }
        return ports
    }

    /// SIGKILL, then reap: what a crash looks like to the data directory.
    func kill() {
        let pid = state.withLock { state -> pid_t in
            defer { state.pid = 0 }
            return state.pid
        }
        guard pid > 0 else { return }
        Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    /// SIGTERM, wait up to `timeout`, SIGKILL if it did not stop. Returns the exit status, or
    /// nil if it had to be killed.
    @discardableResult
    func stop(timeout: Duration = .seconds(30)) -> Int32? {
        let pid = state.withLock { state -> pid_t in
            defer { state.pid = 0 }
            return state.pid
        }
        guard pid > 0 else { return 0 }
        Glibc.kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while ContinuousClock.now < deadline {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { return (status >> 8) & 0xFF }
            usleep(20_000)
        }
        Glibc.kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
        return nil
    }

    /// Whether the process has exited on its own (reaping it if so).
    var hasExited: Bool {
        let pid = self.pid
        guard pid > 0 else { return true }
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == pid
    }

    private static func spawn(_ binary: String, _ arguments: [String], stdout: Int32, stderr: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let argv = ([binary] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, binary, &actions, nil, argv, environ)
        guard result == 0 else {
            throw NodeProcessError(description: "cannot start \(binary): \(String(cString: strerror(result)))")
        }
        return pid
    }
}

/// The node's log file, appended to by the stdout thread and written by the node as stderr.
final class LogSink: Sendable {
    let descriptor: Int32

    init(path: String) throws {
        descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw NodeProcessError(description: "cannot open \(path): errno \(errno)") }
    }

    func write(_ text: String) { write(bytes: Array(text.utf8)[...]) }

    func write(bytes: ArraySlice<UInt8>) {
        _ = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
    }

    deinit { close(descriptor) }
}

/// Resumes one waiter with the first outcome reported (the ready line, or the node's exit).
final class ReadyWaiter: Sendable {
    private let state = Mutex<(result: Result<ReadyPorts, any Error>?, waiter: CheckedContinuation<ReadyPorts, any Error>?)>((nil, nil))

    func succeed(_ ports: ReadyPorts) { complete(.success(ports)) }
    func fail(_ error: any Error) { complete(.failure(error)) }

    private func complete(_ result: Result<ReadyPorts, any Error>) {
        let waiter = state.withLock { state -> CheckedContinuation<ReadyPorts, any Error>? in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(with: result)
    }

    func wait(timeout: Duration, role: String) async throws -> ReadyPorts {
        let timer = Task {
            try await Task.sleep(for: timeout)
            self.fail(NodeProcessError(description: "\(role) was not ready within \(timeout)"))
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            let done = state.withLock { state -> Result<ReadyPorts, any Error>? in
                if let result = state.result { return result }
                state.waiter = continuation
                return nil
            }
            if let done { continuation.resume(with: done) }
        }
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
