#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive `flock` on `paynode.lock` in the data directory, so two nodes (or two stores in
/// one process) never share one environment. The kernel drops it when the process dies, so a
/// SIGKILLed node never leaves a stale lock.
final class DataDirectoryLock: Sendable {
    private let descriptor: Int32

    init(directory: String) throws(LogStoreError) {
        let path = directory + "/paynode.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw LogStoreError(.storageFailure, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = pread(fd, &buffer, buffer.count, 0)
            let owner = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self).trimmingSpaces : "another process"
            close(fd)
            throw LogStoreError(.dataDirectoryInUse, "data directory \(directory) is in use (locked by pid \(owner))")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        descriptor = fd
    }

    deinit {
        close(descriptor)
    }
}

private extension String {
    var trimmingSpaces: String {
        String(unicodeScalars.filter { !$0.properties.isWhitespace })
    }
}
