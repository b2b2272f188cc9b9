#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// An exclusive `flock` on `paynode.lock` in the data directory, so two nodes (or two stores in
/// one process) never share one environment. The kernel drops it when the process dies, so a
/// SIGKILLed node never leaves a stale lock.
final class DataDirectoryLock: Sendable {
    private let descriptor: Int32
    private let path: String

    /// Lock files this process holds. A lock file naming this process that is not in here is
    /// held only by a child forked while this process had it open (between fork and exec, before
    /// O_CLOEXEC closes it): that hold ends within moments, so opening waits for it briefly.
    private static let heldByThisProcess = Mutex<Set<String>>([])

    init(directory: String) throws(LogStoreError) {
        let path = directory + "/paynode.lock"
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw LogStoreError(.storageFailure, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        var attempts = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = pread(fd, &buffer, buffer.count, 0)
            let owner = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self).trimmingSpaces : "another process"
            let heldHere = Self.heldByThisProcess.withLock { $0.contains(path) }
            if owner == "\(getpid())", !heldHere, attempts < 200 {
                attempts += 1
                usleep(10_000)
                continue
            }
            close(fd)
            throw LogStoreError(.dataDirectoryInUse, "data directory \(directory) is in use (locked by pid \(owner))")
        }
        Self.heldByThisProcess.withLock { _ = $0.insert(path) }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        descriptor = fd
    }

    deinit {
        Self.heldByThisProcess.withLock { _ = $0.remove(path) }
        close(descriptor)
    }
}

private extension String {
    var trimmingSpaces: String {
        String(unicodeScalars.filter { !$0.properties.isWhitespace })
    }
}
