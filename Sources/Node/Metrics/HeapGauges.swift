import CJemalloc
import Metrics

/// The allocator's own view of the node's memory, read when Prometheus scrapes. The nodes link
/// jemalloc (Package.swift: `CJemalloc`), so every allocation of the Swift runtime, NIO and
/// LMDB goes through it, and its statistics tell the heap apart from the LMDB map's file pages,
/// which a process's RSS also counts (docs/observability.md).
///
/// - `paynode_heap_allocated_bytes`: bytes the node has allocated and not freed.
/// - `paynode_heap_resident_bytes`: physical memory the allocator holds (allocated, its
///   metadata, and freed pages not yet returned to the kernel).
struct HeapGauges: Sendable {
    private let allocated = Gauge(label: "paynode_heap_allocated_bytes")
    private let resident = Gauge(label: "paynode_heap_resident_bytes")

    func refresh() {
        guard let statistics = Self.read() else { return }
        allocated.record(statistics.allocated)
        resident.record(statistics.resident)
    }

    /// jemalloc's statistics, refreshed first (they are cached until the epoch advances); nil if
    /// the running allocator is not jemalloc.
    static func read() -> (allocated: Int, resident: Int)? {
        var advance: UInt64 = 1
        var current: UInt64 = 0
        var size = MemoryLayout<UInt64>.size
        guard mallctl("epoch", &current, &size, &advance, MemoryLayout<UInt64>.size) == 0 else { return nil }
        guard let allocated = statistic("stats.allocated"), let resident = statistic("stats.resident") else { return nil }
        return (allocated, resident)
    }

    private static func statistic(_ name: String) -> Int? {
        var value = 0
        var size = MemoryLayout<Int>.size
        guard mallctl(name, &value, &size, nil, 0) == 0 else { return nil }
        return value
    }
}
