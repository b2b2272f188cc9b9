import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// CPU and memory of one node over the run, across its restarts.
struct NodeResources: Sendable, Codable {
    var node: String
    /// CPU seconds (user + system) summed over every process the node ran as.
    var cpuSeconds: Double = 0
    /// Peak of one-second CPU use, in cores (1.0 = one core busy).
    var peakCores: Double = 0
    var maxRSSMegabytes: Double = 0
    var lastRSSMegabytes: Double = 0
    /// The anonymous part of RSS at its peak (heap, stacks): RSS also counts resident pages of
    /// the store's memory-mapped LMDB file, which the kernel can drop at any time.
    var maxAnonymousRSSMegabytes: Double = 0
    var samples = 0
}

/// Samples `/proc/<pid>/stat` (utime, stime) and `/proc/<pid>/status` (VmRSS) of each node
/// once per `interval`. A restart gives a new pid; the CPU of the old one counts up to its last
/// sample. The load generator samples itself too ("loadtest"): on a 2-core machine it competes
/// with the nodes for CPU, and the report must show how much it took.
final class ResourceSampler: Sendable {
    private let nodes: [(role: String, pid: @Sendable () -> pid_t)]
    private let state: Mutex<[String: (resources: NodeResources, pid: pid_t, lastTicks: Double)]>
    private let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    init(nodes: [NodeProcess]) {
        let ownPid = getpid()
        var sampled: [(role: String, pid: @Sendable () -> pid_t)] = []
        for node in nodes { sampled.append((node.role, { @Sendable in node.pid })) }
        sampled.append(("loadtest", { @Sendable in ownPid }))
        self.nodes = sampled
        state = Mutex(Dictionary(uniqueKeysWithValues: sampled.map { ($0.role, (NodeResources(node: $0.role), 0, 0)) }))
    }

    func run(interval: Duration = .seconds(1)) async {
        while !Task.isCancelled {
            sampleOnce(intervalSeconds: interval.seconds)
            try? await Task.sleep(for: interval)
        }
    }

    func sampleOnce(intervalSeconds: Double) {
        for node in nodes {
            let pid = node.pid()
            guard pid > 0, let ticks = Self.cpuTicks(pid), let rss = Self.statusKilobytes(pid, "VmRSS:") else { continue }
            let anonymous = Self.statusKilobytes(pid, "RssAnon:") ?? rss
            state.withLock { all in
                var entry = all[node.role]!
                let previous = entry.pid == pid ? entry.lastTicks : 0
                let delta = max(0, ticks - previous) / ticksPerSecond
                entry.resources.cpuSeconds += delta
                if entry.pid == pid { entry.resources.peakCores = max(entry.resources.peakCores, delta / intervalSeconds) }
                entry.pid = pid
                entry.lastTicks = ticks
                entry.resources.lastRSSMegabytes = rss / 1024
                entry.resources.maxRSSMegabytes = max(entry.resources.maxRSSMegabytes, rss / 1024)
                entry.resources.maxAnonymousRSSMegabytes = max(entry.resources.maxAnonymousRSSMegabytes, anonymous / 1024)
                entry.resources.samples += 1
                all[node.role] = entry
            }
        }
    }

    func current() -> [NodeResources] {
        state.withLock { all in nodes.compactMap { all[$0.role]?.resources } }
    }

    /// utime + stime in clock ticks: fields 14 and 15 of /proc/<pid>/stat, counted after the
    /// command name's closing parenthesis (the name may contain spaces).
    static func cpuTicks(_ pid: pid_t) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); utime is field 14, stime field 15.
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return user + system
    }

    /// A `kB` field of /proc/<pid>/status, e.g. `VmRSS:` or `RssAnon:`.
    static func statusKilobytes(_ pid: pid_t, _ field: String) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field) }) else { return nil }
        return line.split(separator: " ").dropFirst().first.flatMap { Double($0) }
    }
}
