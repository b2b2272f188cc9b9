import CLMDB
import Dispatch
import Foundation
import Logging
import NIOCore
import Synchronization

/// One caller's work, waiting for the writer thread.
final class WriteJob: @unchecked Sendable {
    /// Runs inside the group transaction; may run more than once if the group is retried.
    private(set) var run: (WriteTransaction) throws -> Void
    /// Called exactly once: success only after the transaction holding `run`'s work is durable.
    private var complete: ((Result<Void, any Error>) -> Void)?
    let estimatedBytes: Int

    init(estimatedBytes: Int, run: @escaping (WriteTransaction) throws -> Void, complete: @escaping (Result<Void, any Error>) -> Void) {
        self.estimatedBytes = estimatedBytes
        self.run = run
        self.complete = complete
    }

    /// Reports the outcome to the caller. The work closure is dropped first, while the caller
    /// still waits: whatever it captured (a consumer's whole batch of records) is then freed by
    /// the caller once it resumes, not by the writer thread, which everyone waits on.
    func finish(_ result: Result<Void, any Error>) {
        run = { _ in }
        let complete = self.complete
        self.complete = nil
        complete?(result)
    }
}

/// The single writer thread. It gathers every caller waiting at that moment into one LMDB
/// transaction and one fsync (group commit), so throughput grows with concurrency instead of
/// being capped at one commit per fsync. A caller whose work throws is taken out of the group
/// and the rest go on: if the failed work wrote nothing, in the same transaction; otherwise the
/// transaction is aborted and the others' work is run again without it.
final class GroupCommitWriter: @unchecked Sendable {
    /// The writes waiting for the writer thread, bounded by `maximumQueuedWrites` and
    /// `maximumQueuedWriteBytes` (the sum of their estimates).
    private struct Queue {
        var jobs = CircularBuffer<WriteJob>(initialCapacity: 1024)
        var bytes = 0
        var closed = false

        var isEmpty: Bool { jobs.isEmpty }
    }

    private enum Admission {
        case accepted
        case closed
        case full(count: Int, bytes: Int)
    }

    private let queue = Mutex(Queue())
    private let wakeup = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)
    private let environment: LMDBEnvironment
    private let core: CoreDatabases
    private let handles: DatabaseHandles
    private let mapGuard: MapGuard
    private let notifier: AppendNotifier
    private let configuration: LogStoreConfiguration
    private let metrics: StoreMetrics
    private let logger: Logger
    private let limits: WriteTransaction.Limits
    /// Durable commits so far (statistics; tests use it to see that callers share commits).
    let commitCount = Atomic<Int>(0)
    // Writer-thread state.
    private var unsyncedCommits = 0
    private var lastSync = ContinuousClock.now

    init(environment: LMDBEnvironment, core: CoreDatabases, handles: DatabaseHandles, mapGuard: MapGuard,
         notifier: AppendNotifier, configuration: LogStoreConfiguration, metrics: StoreMetrics, logger: Logger) {
        self.environment = environment
        self.core = core
        self.handles = handles
        self.mapGuard = mapGuard
        self.notifier = notifier
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.limits = .init(maximumBatchBytes: configuration.maximumBatchBytes, maximumDatabases: configuration.maximumDatabases,
                             maximumPartitions: configuration.maximumPartitions)
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "logstore-writer"
        thread.start()
    }

    func submit(_ job: WriteJob) {
        let limits = (count: configuration.maximumQueuedWrites, bytes: configuration.maximumQueuedWriteBytes)
        let admission = queue.withLock { queue -> Admission in
            guard !queue.closed else { return .closed }
            guard queue.jobs.count < limits.count, queue.jobs.isEmpty || queue.bytes + job.estimatedBytes <= limits.bytes else {
                return .full(count: queue.jobs.count, bytes: queue.bytes)
            }
            queue.jobs.append(job)
            queue.bytes += job.estimatedBytes
            return .accepted
        }
        switch admission {
        case .accepted:
            wakeup.signal()
        case .closed:
            job.finish(.failure(LogStoreError(.storeClosed, "the store is closed")))
        case .full(let count, let bytes):
            metrics.recordOverload()
            job.finish(.failure(LogStoreError(.overloaded, "\(count) writes (\(bytes) bytes) already wait for the disk "
                + "(maximumQueuedWrites \(limits.count), maximumQueuedWriteBytes \(limits.bytes)); retry after a back-off")))
        }
    }

    /// Finishes every job already submitted, then stops the thread. Blocks until it has.
    func shutdown() {
        queue.withLock { $0.closed = true }
        wakeup.signal()
        stopped.wait()
    }

    private var syncIntervalMilliseconds: Int? {
        if case .deferredSync(let milliseconds) = configuration.durability { return milliseconds }
        return nil
    }

    private func run() {
        while true {
            if let interval = syncIntervalMilliseconds {
                _ = wakeup.wait(timeout: .now() + .milliseconds(interval))
                syncIfDue(interval: .milliseconds(interval))
            } else {
                wakeup.wait()
            }
            while let batch = takeBatch() {
                process(batch)
            }
            if queue.withLock({ $0.closed && $0.isEmpty }) { break }
        }
        if syncIntervalMilliseconds != nil, unsyncedCommits > 0 {
            try? environment.sync(force: true)
        }
        stopped.signal()
    }

    private func syncIfDue(interval: Duration) {
        guard unsyncedCommits > 0, ContinuousClock.now - lastSync >= interval else { return }
        do {
            try environment.sync(force: true)
            unsyncedCommits = 0
            lastSync = .now
        } catch {
            logger.error("deferred fsync failed", metadata: ["error": "\(error)"])
        }
    }

    /// Everything waiting now, up to the configured callers and bytes per commit.
    private func takeBatch() -> [WriteJob]? {
        queue.withLock { queue -> [WriteJob]? in
            guard let first = queue.jobs.first else { return nil }
            var batch: [WriteJob] = []
            var bytes = 0
            var next: WriteJob? = first
            while let job = next, batch.count < configuration.maximumCallersPerCommit {
                if !batch.isEmpty, bytes + job.estimatedBytes > configuration.maximumBytesPerCommit { break }
                batch.append(queue.jobs.removeFirst())
                bytes += job.estimatedBytes
                next = queue.jobs.first
            }
            queue.bytes -= bytes
            assert(queue.bytes >= 0 && (!queue.jobs.isEmpty || queue.bytes == 0), "queued bytes disagree with the queued writes")
            return batch
        }
    }

    private func process(_ batch: [WriteJob]) {
        var pending = batch
        let started = ContinuousClock.now
        while !pending.isEmpty {
            var transactionPointer: OpaquePointer?
            let beginCode = mdb_txn_begin(environment.pointer, nil, 0, &transactionPointer)
            guard beginCode == 0, let transactionPointer else {
                fail(pending, LogStoreError(LMDBError(code: beginCode, operation: "txn_begin"), context: "starting a write transaction"))
                return
            }
            let transaction = WriteTransaction(lmdb: LMDBTransaction(pointer: transactionPointer), core: core, handles: handles,
                                               limits: limits, nowMilliseconds: currentTimeMilliseconds())
            var retry = false
            var index = 0
            while index < pending.count {
                let job = pending[index]
                let writesBefore = transaction.writeCount
                do {
                    try job.run(transaction)
                    index += 1
                    continue
                } catch {
                    if let poison = transaction.poisoningFailure {
                        mdb_txn_abort(transactionPointer)
                        retry = true
                        if poison.isMapFull, growMap() { break }
                        if poison.isOutOfSpace {
                            fail(pending, LogStoreError(poison, context: "appending"))
                            return
                        }
                        if poison.isTransactionFull, pending.count > 1 {
                            // Too much for one transaction: commit the group in two halves.
                            let half = pending.count / 2
                            process(Array(pending[..<half]))
                            process(Array(pending[half...]))
                            return
                        }
                        job.finish(.failure(error))
                        pending.remove(at: index)
                        break
                    }
                    if transaction.writeCount != writesBefore {
                        // The failed work left writes behind: drop the transaction and rerun
                        // the others without it.
                        mdb_txn_abort(transactionPointer)
                        job.finish(.failure(error))
                        pending.remove(at: index)
                        retry = true
                        break
                    }
                    job.finish(.failure(error))
                    pending.remove(at: index)
                }
            }
            if retry { continue }
            if pending.isEmpty {
                mdb_txn_abort(transactionPointer)
                return
            }
            let commitStarted = ContinuousClock.now
            let commitCode = mdb_txn_commit(transactionPointer)
            if commitCode == 0 {
                metrics.recordCommit(callers: pending.count, duration: ContinuousClock.now - commitStarted,
                                     total: ContinuousClock.now - started)
                unsyncedCommits += 1
                commitCount.add(1, ordering: .relaxed)
                handles.publish(transaction.openedHandles)
                notifier.forget(transaction.deletedPartitions)
                notifier.publish(transaction.appendedHighWatermarks)
                for job in pending { job.finish(.success(())) }
                return
            }
            let failure = LMDBError(code: commitCode, operation: "txn_commit")
            if failure.isMapFull, growMap() { continue }
            fail(pending, LogStoreError(failure, context: "committing"))
            return
        }
    }

    private func fail(_ jobs: [WriteJob], _ error: LogStoreError) {
        if error.code == .outOfSpace {
            metrics.recordOutOfSpace()
            logger.warning("write failed: out of space", metadata: ["error": "\(error.message)", "callers": "\(jobs.count)"])
        } else {
            logger.error("write transaction failed", metadata: ["error": "\(error.message)", "callers": "\(jobs.count)"])
        }
        for job in jobs { job.finish(.failure(error)) }
    }

    /// Grows the map after MDB_MAP_FULL: doubling below 1 GiB, then by `mapGrowthStep`, never
    /// past `maximumMapSize` nor into the last `reservedDiskBytes` of the filesystem.
    private func growMap() -> Bool {
        let current = environment.info.me_mapsize
        var target = current < 1 << 30 ? current * 2 : current + configuration.mapGrowthStep
        target = min(target, configuration.maximumMapSize)
        if let disk = DiskSpace.measure(directory: configuration.dataDirectory) {
            let fileSize = DiskSpace.fileSize(configuration.dataDirectory + "/data.mdb") ?? 0
            let room = fileSize + disk.availableBytes - configuration.reservedDiskBytes
            target = min(target, max(room, current))
        }
        let pageSize = environment.pageSize
        target = target / pageSize * pageSize
        guard target > current else {
            logger.warning("map cannot grow", metadata: ["mapSize": "\(current)", "maximumMapSize": "\(configuration.maximumMapSize)"])
            return false
        }
        do {
            try mapGuard.withExclusiveAccess { try environment.setMapSize(target) }
            logger.info("map grown", metadata: ["from": "\(current)", "to": "\(target)"])
            return true
        } catch {
            logger.error("map growth failed", metadata: ["error": "\(error)"])
            return false
        }
    }
}

func currentTimeMilliseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

enum DiskSpace {
    struct Measurement {
        var availableBytes: Int
        var totalBytes: Int
    }

    static func measure(directory: String) -> Measurement? {
        var stats = statvfs()
        guard statvfs(directory, &stats) == 0 else { return nil }
        return Measurement(availableBytes: Int(stats.f_bavail) * Int(stats.f_frsize),
                           totalBytes: Int(stats.f_blocks) * Int(stats.f_frsize))
    }

    static func fileSize(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }
}
