import Foundation
import LogStore
import Logging
import NIOCore
import Protocol
import RawLMDB

#if canImport(Glibc)
import Glibc
#endif

/// The LogStore benchmark: append throughput at 1, 100 and 1000 records per commit and the
/// payment-consumer step, each next to a plain-C LMDB baseline doing the same work with the same
/// sync settings, run right before and after it (fsync cost varies a lot between days here, so
/// only the ratios are comparable across runs).
///
///     cd Benchmarks && swift build -c release --product logstore-bench && .build/release/logstore-bench
@main
struct LogStoreBench {
    static func main() async throws {
        let options: Options
        do {
            options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            FileHandle.standardError.write(Data("logstore-bench: \(error)\n\n\(Options.usage)\n".utf8))
            exit(2)
        }
        if options.help {
            print(Options.usage)
            return
        }
        var bench = Runner(options: options)
        try await bench.run()
    }
}

// MARK: - Options

struct Options: Sendable {
    var recordSize = 200
    /// Records per case at 1 record per commit, one sequential caller (one fsync each).
    var singleRecords = 500
    /// Records per case at 1 record per commit from `callers` concurrent callers (group commit).
    var concurrentRecords = 16_000
    var callers = 64
    /// Records per case at 100 records per commit.
    var hundredRecords = 50_000
    /// Records per case at 1000 records per commit.
    var thousandRecords = 200_000
    /// Records in the log the consumer step works through, per batch size.
    var records = 200_000
    /// Records per transaction of the consumer step.
    var consumeBatches = [1_000, 5_000]
    /// Records per batch the consume prefill appends (the producer's batch size).
    var prefillBatch = 1_000
    /// Rounds per case; each round runs LogStore and its baselines back to back.
    var rounds = 3
    var temporaryDirectory = "/tmp"
    /// Which parts to run: cpu, append, consume.
    var parts: Set<String> = ["cpu", "append", "consume"]
    var help = false
    /// Skip the raw baselines (for profiling LogStore alone).
    var skipRaw = false

    struct ParseError: Error, CustomStringConvertible {
        var description: String
    }

    static let usage = """
        usage: logstore-bench [options]
          --record-size N          value bytes per record (default 200)
          --single-records N       records at 1 record/commit, one caller (default 500)
          --concurrent-records N   records at 1 record/call from concurrent callers (default 16000)
          --callers N              concurrent callers for the group-commit case (default 64)
          --hundred-records N      records at 100 records/commit (default 50000)
          --thousand-records N     records at 1000 records/commit (default 200000)
          --records N              log size for the consume step (default 200000)
          --consume-batches A,B    records per consume transaction (default 1000,5000)
          --prefill-batch N        records per appended batch in the consume prefill (default 1000)
          --rounds N               rounds per case, alternating LogStore and baselines (default 3);
                                   figures are medians, ratios are medians of per-round ratios
          --only cpu,append,consume   run only these parts (default all)
          --skip-raw               run no raw baselines (to profile LogStore alone)
          --tmp DIR                parent of the temporary data directories (default /tmp)
        """

    static func parse(_ arguments: [String]) throws -> Options {
        var options = Options()
        var iterator = arguments.makeIterator()
        func value(_ name: String) throws -> String {
            guard let value = iterator.next() else { throw ParseError(description: "\(name) needs a value") }
            return value
        }
        func int(_ name: String) throws -> Int {
            let text = try value(name).replacingOccurrences(of: "_", with: "")
            guard let number = Int(text), number > 0 else { throw ParseError(description: "\(name): \(text) is not a positive integer") }
            return number
        }
        while let argument = iterator.next() {
            switch argument {
            case "--record-size": options.recordSize = try int(argument)
            case "--single-records": options.singleRecords = try int(argument)
            case "--concurrent-records": options.concurrentRecords = try int(argument)
            case "--callers": options.callers = try int(argument)
            case "--hundred-records": options.hundredRecords = try int(argument)
            case "--thousand-records": options.thousandRecords = try int(argument)
            case "--records": options.records = try int(argument)
            case "--consume-batches":
                let list = try value(argument).split(separator: ",").map { Int($0.replacingOccurrences(of: "_", with: "")) }
                guard !list.isEmpty, list.allSatisfy({ ($0 ?? 0) > 0 }) else {
                    throw ParseError(description: "--consume-batches wants positive integers separated by commas")
                }
                options.consumeBatches = list.map { $0! }
            case "--prefill-batch": options.prefillBatch = try int(argument)
            case "--rounds": options.rounds = try int(argument)
            case "--skip-raw": options.skipRaw = true
            case "--only":
                let parts = Set(try value(argument).split(separator: ",").map(String.init))
                let known: Set<String> = ["cpu", "append", "consume"]
                guard !parts.isEmpty, parts.isSubset(of: known) else {
                    throw ParseError(description: "--only takes a comma-separated subset of cpu,append,consume")
                }
                options.parts = parts
            case "--tmp": options.temporaryDirectory = try value(argument)
            case "-h", "--help": options.help = true
            default: throw ParseError(description: "unknown argument \(argument)")
            }
        }
        if options.recordSize < 32 { throw ParseError(description: "--record-size must be at least 32 (the consume step's result layout)") }
        return options
    }
}

// MARK: - Results

struct CaseResult: Codable, Sendable {
    var name: String
    var records: Int
    var recordsPerCommit: Int
    var callers: Int
    var logStoreSeconds: Double
    var logStoreRecordsPerSecond: Double
    /// Durable commits LogStore made (from its statistics).
    var logStoreCommits: Int
    /// Every round's LogStore figure (`logStoreRecordsPerSecond` is their median).
    var logStoreRecordsPerSecondRuns: [Double] = []
    /// Baselines, one per round, in records/s.
    var rawPerRecordRecordsPerSecond: [Double]?
    var rawPerBatchRecordsPerSecond: [Double]?
    var rawConsumeRecordsPerSecond: [Double]?
    /// Median over rounds of LogStore records/s divided by the baseline run next to it.
    var ratioToRawPerRecord: Double?
    var ratioToRawPerBatch: Double?
    var ratioToRawConsume: Double?
    /// The per-round ratios.
    var ratiosToRawPerRecord: [Double]?
    var ratiosToRawPerBatch: [Double]?
    var ratiosToRawConsume: [Double]?
    /// Records per commit used for the baselines of the group-commit case (LogStore's mean group).
    var rawRecordsPerCommit: Int?
}

struct CPUResult: Codable, Sendable {
    var encodeNanosecondsPerRecord: Double
    var crc32cGigabytesPerSecond: Double
    var crc32cHardware: Bool
    var decodeNanosecondsPerRecord: Double
    var fetchVerifyNanosecondsPerRecord: Double?
}

struct Report: Codable, Sendable {
    var benchmark = "logstore"
    var date: String
    var machine: String
    var cores: Int
    var recordSize: Int
    /// Raw C durable commit of one record, in ms: from the 1 record/commit baselines...
    var durableCommitMilliseconds: Double?
    /// ... and from a short probe at the start and the end of the run.
    var durableCommitProbeMilliseconds: [Double] = []
    var cpu: CPUResult?
    var cases: [CaseResult] = []
    var targets: [String: Bool] = [:]
}

// MARK: - Runner

struct Runner {
    let options: Options
    var report: Report

    init(options: Options) {
        self.options = options
        let formatter = ISO8601DateFormatter()
        report = Report(date: formatter.string(from: Date()), machine: Machine.cpuModel, cores: ProcessInfo.processInfo.activeProcessorCount,
                        recordSize: options.recordSize)
    }

    mutating func run() async throws {
        print("LogStore benchmark — \(report.date)")
        print("machine: \(report.machine), \(report.cores) cores; records of \(options.recordSize) bytes; durable (fsync every commit)")
        print("")
        if !options.skipRaw { try probeCommit(label: "start") }
        if options.parts.contains("cpu") { try cpuCosts() }
        if options.parts.contains("append") { try await appendCases() }
        if options.parts.contains("consume") { try await consumeCases() }
        if !options.skipRaw { try probeCommit(label: "end") }
        print("")
        printSummary()
    }

    /// The cost of one durable commit (raw C, one 200-byte put per commit, 200 commits), at the
    /// start and the end of the run: how noisy the disk was.
    mutating func probeCommit(label: String) throws {
        let commits = 200
        let seconds = try Raw.appendPerRecord(records: commits, recordSize: options.recordSize, perCommit: 1, tmp: options.temporaryDirectory)
        let milliseconds = seconds * 1000 / Double(commits)
        report.durableCommitProbeMilliseconds.append(milliseconds)
        print("durable commit probe (\(label)): \(Format.fixed(milliseconds, 3)) ms per commit (raw LMDB, \(commits) commits of one record)")
        if label == "start" { print("") }
    }

    // MARK: CPU costs without I/O

    mutating func cpuCosts() throws {
        let count = 1000
        let records = Workload.appendRecords(count: count, size: options.recordSize)
        let rounds = 200
        var batch = try RecordBatch.encode(records: records)
        let encode = Clock.measure {
            for _ in 0..<rounds { batch = try! RecordBatch.encode(records: records) }
        }
        let crcRounds = 2000
        var sink: UInt32 = 0
        let crc = Clock.measure {
            for _ in 0..<crcRounds { sink &+= CRC32C.checksum(batch) }
        }
        var decoded = 0
        let decode = Clock.measure {
            for _ in 0..<rounds { decoded &+= try! RecordBatch.decodeRecords(batch).count }
        }
        let result = CPUResult(encodeNanosecondsPerRecord: encode * 1e9 / Double(rounds * count),
                               crc32cGigabytesPerSecond: Double(batch.readableBytes * crcRounds) / crc / 1e9,
                               crc32cHardware: CRC32C.isHardwareAccelerated,
                               decodeNanosecondsPerRecord: decode * 1e9 / Double(rounds * count))
        report.cpu = result
        print("CPU only (no I/O), batch of \(count) records = \(batch.readableBytes) bytes:")
        print("  RecordBatch.encode        \(Format.fixed(result.encodeNanosecondsPerRecord, 0)) ns/record")
        print("  CRC-32C                   \(Format.fixed(result.crc32cGigabytesPerSecond, 1)) GB/s (hardware: \(result.crc32cHardware)) = \(Format.fixed(Double(options.recordSize) / result.crc32cGigabytesPerSecond, 0)) ns/record")
        print("  RecordBatch.decodeRecords \(Format.fixed(result.decodeNanosecondsPerRecord, 0)) ns/record")
        // Keeps the measured work observable to the optimizer; never true in practice.
        if sink == 0x5EED_5EED, decoded < 0 { print("") }
        print("")
    }

    // MARK: Appends

    mutating func appendCases() async throws {
        print("Append throughput (records/s, median of \(options.rounds) rounds; raw = plain C LMDB run next to LogStore in each round;")
        print("ratio = median of per-round LogStore/raw):")
        print(Table.appendHeader)
        // 1 record per commit, one sequential caller: the durable-commit floor.
        try await appendCase(name: "append-1-sequential", records: options.singleRecords, perCommit: 1, callers: 1)
        // 1 record per call from many concurrent callers: group commit.
        try await appendCase(name: "append-1-concurrent", records: options.concurrentRecords, perCommit: 1, callers: options.callers)
        try await appendCase(name: "append-100", records: options.hundredRecords, perCommit: 100, callers: 1)
        try await appendCase(name: "append-1000", records: options.thousandRecords, perCommit: 1000, callers: 1)
        print("")
    }

    mutating func appendCase(name: String, records: Int, perCommit: Int, callers: Int) async throws {
        let recordSize = options.recordSize
        let tmp = options.temporaryDirectory
        // For the group-commit case the baselines run at LogStore's mean group size, which is
        // only known afterwards: run LogStore once first, untimed (a warm-up), to learn it.
        var rawPerCommit = perCommit
        if callers > 1 {
            let probe = try await Self.logStoreAppend(records: records, perCommit: perCommit, callers: callers,
                                                      recordSize: recordSize, tmp: tmp)
            rawPerCommit = max(1, Int((Double(records) / Double(max(probe.commits, 1))).rounded()))
        }
        // Rounds alternate the order (raw, raw, LogStore / LogStore, raw, raw) so that each
        // LogStore run has its baselines right next to it; ratios are taken per round.
        var rates: [Double] = [], perRecord: [Double] = [], perBatch: [Double] = []
        var ratiosPerRecord: [Double] = [], ratiosPerBatch: [Double] = []
        var commits = 0, seconds = 0.0
        for round in 0..<options.rounds {
            var store = AppendRun(seconds: 0, commits: 0)
            var a = 0.0, b = 0.0
            let runStore = {
                try await Self.logStoreAppend(records: records, perCommit: perCommit, callers: callers, recordSize: recordSize, tmp: tmp)
            }
            if round % 2 == 0 {
                a = options.skipRaw ? .nan : try Raw.appendPerRecord(records: records, recordSize: recordSize, perCommit: rawPerCommit, tmp: tmp)
                b = options.skipRaw ? .nan : try Raw.appendPerBatch(records: records, recordSize: recordSize, perCommit: rawPerCommit, tmp: tmp)
                store = try await runStore()
            } else {
                store = try await runStore()
                b = options.skipRaw ? .nan : try Raw.appendPerBatch(records: records, recordSize: recordSize, perCommit: rawPerCommit, tmp: tmp)
                a = options.skipRaw ? .nan : try Raw.appendPerRecord(records: records, recordSize: recordSize, perCommit: rawPerCommit, tmp: tmp)
            }
            let rate = Double(records) / store.seconds
            rates.append(rate)
            perRecord.append(Double(records) / a)
            perBatch.append(Double(records) / b)
            ratiosPerRecord.append(rate / perRecord.last!)
            ratiosPerBatch.append(rate / perBatch.last!)
            commits += store.commits
            seconds += store.seconds
        }
        var result = CaseResult(name: name, records: records, recordsPerCommit: perCommit, callers: callers,
                                logStoreSeconds: seconds / Double(options.rounds), logStoreRecordsPerSecond: rates.median,
                                logStoreCommits: commits / options.rounds)
        result.logStoreRecordsPerSecondRuns = rates
        result.rawPerRecordRecordsPerSecond = perRecord
        result.rawPerBatchRecordsPerSecond = perBatch
        result.ratioToRawPerRecord = ratiosPerRecord.median
        result.ratioToRawPerBatch = ratiosPerBatch.median
        result.ratiosToRawPerRecord = ratiosPerRecord
        result.ratiosToRawPerBatch = ratiosPerBatch
        if callers > 1 { result.rawRecordsPerCommit = rawPerCommit }
        if perCommit == 1, callers == 1 {
            report.durableCommitMilliseconds = 1000 / perRecord.median
        }
        report.cases.append(result)
        print(Table.appendRow(result))
    }

    struct AppendRun {
        var seconds: Double
        var commits: Int
    }

    static func logStoreAppend(records total: Int, perCommit: Int, callers: Int, recordSize: Int, tmp: String) async throws -> AppendRun {
        try await withStore(tmp: tmp) { store in
            let topic = "bench"
            try await store.createTopic(topic, partitions: 1)
            let batch = Workload.appendRecords(count: perCommit, size: recordSize)
            let commitsBefore = try store.statistics().commits
            let started = ContinuousClock.now
            if callers == 1 {
                var appended = 0
                while appended < total {
                    let count = min(perCommit, total - appended)
                    try await store.append(topic: topic, partition: 0, records: count == perCommit ? batch : Array(batch.prefix(count)))
                    appended += count
                }
            } else {
                // Each caller appends its share in calls of `perCommit` records; the writer
                // gathers whoever is waiting into one transaction.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for caller in 0..<callers {
                        let share = total / callers + (caller < total % callers ? 1 : 0)
                        group.addTask {
                            var appended = 0
                            while appended < share {
                                let count = min(perCommit, share - appended)
                                try await store.append(topic: topic, partition: 0,
                                                       records: count == perCommit ? batch : Array(batch.prefix(count)))
                                appended += count
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let seconds = ContinuousClock.now - started
            let commits = try store.statistics().commits - commitsBefore
            let highWatermark = try store.describe(topic: topic)?.partitions.first?.highWatermark ?? -1
            guard highWatermark == Int64(total) else {
                throw BenchError("LogStore append: high watermark \(highWatermark), expected \(total)")
            }
            return AppendRun(seconds: seconds.seconds, commits: commits)
        }
    }

    // MARK: Consume step

    mutating func consumeCases() async throws {
        print("Consume step (fetch + decode + 3 table writes per record + offset commit, one durable commit per batch;")
        print("median of \(options.rounds) rounds, ratio = median of per-round LogStore/raw C):")
        print(Table.consumeHeader)
        for perCommit in options.consumeBatches {
            let records = options.records
            let recordSize = options.recordSize
            let prefillBatch = options.prefillBatch
            let tmp = options.temporaryDirectory
            var rates: [Double] = [], raw: [Double] = [], ratios: [Double] = []
            var commits = 0, seconds = 0.0
            for round in 0..<options.rounds {
                var store = AppendRun(seconds: 0, commits: 0)
                var c = 0.0
                let runStore = {
                    try await Self.logStoreConsume(records: records, recordSize: recordSize, perCommit: perCommit,
                                                   prefillBatch: prefillBatch, tmp: tmp)
                }
                if round % 2 == 0 {
                    c = options.skipRaw ? .nan : try Raw.consume(records: records, recordSize: recordSize, perCommit: perCommit, tmp: tmp)
                    store = try await runStore()
                } else {
                    store = try await runStore()
                    c = options.skipRaw ? .nan : try Raw.consume(records: records, recordSize: recordSize, perCommit: perCommit, tmp: tmp)
                }
                let rate = Double(records) / store.seconds
                rates.append(rate)
                raw.append(Double(records) / c)
                ratios.append(rate / raw.last!)
                commits += store.commits
                seconds += store.seconds
            }
            var result = CaseResult(name: "consume-\(perCommit)", records: records, recordsPerCommit: perCommit, callers: 1,
                                    logStoreSeconds: seconds / Double(options.rounds), logStoreRecordsPerSecond: rates.median,
                                    logStoreCommits: commits / options.rounds)
            result.logStoreRecordsPerSecondRuns = rates
            result.rawConsumeRecordsPerSecond = raw
            result.ratioToRawConsume = ratios.median
            result.ratiosToRawConsume = ratios
            report.cases.append(result)
            print(Table.consumeRow(result))
        }
        print("")
    }

    static func logStoreConsume(records total: Int, recordSize: Int, perCommit: Int, prefillBatch: Int, tmp: String) async throws -> AppendRun {
        try await withStore(tmp: tmp) { store in
            let topic = "payment-results"
            let group = "payments-consumer"
            try await store.createTopic(topic, partitions: 1)
            // Untimed prefill: the results log, and the orders the results refer to.
            var produced = 0
            while produced < total {
                let count = min(prefillBatch, total - produced)
                let batch = Workload.resultRecords(from: produced, count: count, size: recordSize)
                try await store.append(topic: topic, partition: 0, records: batch)
                produced += count
            }
            var created = 0
            while created < total {
                let from = created
                let count = min(10_000, total - created)
                try await store.write { transaction in
                    let orders = try transaction.table("orders")
                    _ = try transaction.table("history")
                    _ = try transaction.table("outbox")
                    for index in from..<(from + count) {
                        try orders.append(Workload.orderID(index), Workload.order(index))
                    }
                }
                created += count
            }
            guard let partition = try store.describe(topic: topic)?.partitions.first, partition.highWatermark == Int64(total) else {
                throw BenchError("consume prefill: wrong high watermark")
            }
            let bytesPerRecord = max(1, Int(partition.sizeBytes) / total)

            let commitsBefore = try store.statistics().commits
            let started = ContinuousClock.now
            var next: Int64 = 0
            var consumed = 0
            while next < Int64(total) {
                // Fetch whole batches covering about `perCommit` records in one snapshot.
                let fetchFrom = next
                let fetched: [ByteBuffer] = try store.read { transaction in
                    var buffers: [ByteBuffer] = []
                    var offset = fetchFrom
                    var wanted = perCommit
                    while wanted > 0 {
                        let result = try transaction.fetch(topic: topic, partition: 0, offset: offset,
                                                           maxBytes: wanted * bytesPerRecord)
                        if result.isEmpty { break }
                        let (batches, _) = try RecordBatch.split(result.records)
                        guard let last = batches.last else { break }
                        let header = try RecordBatch.peekHeader(last)
                        let end = header.lastOffset + 1
                        wanted -= Int(end - offset)
                        offset = end
                        buffers.append(contentsOf: batches)
                        if end >= result.highWatermark { break }
                    }
                    return buffers
                }
                var records: [Record] = []
                records.reserveCapacity(perCommit + prefillBatch)
                for batch in fetched {
                    for record in try RecordBatch.decodeRecords(batch) where record.offset >= fetchFrom {
                        records.append(record)
                    }
                }
                guard let lastOffset = records.last?.offset else { throw BenchError("consume: nothing fetched at \(next)") }
                let batch = records
                try await store.write { transaction in
                    let now = transaction.nowMilliseconds
                    let orders = try transaction.table("orders")
                    let history = try transaction.table("history")
                    let outbox = try transaction.table("outbox")
                    for record in batch {
                        guard let value = record.value, value.count >= 25 else { continue }
                        let id = Array(value[0..<16])
                        let status = value[16]
                        let amount = Int64(bigEndianBytes: value[17..<25]) ?? 0
                        guard var order = try orders.get(id) else { throw BenchError("order missing for offset \(record.offset)") }
                        guard raw_apply_result(&order, status, now) != 0 else { continue }
                        try orders.put(id, order)
                        let sequence = UInt64(record.offset + 1).bigEndianBytes
                        try history.append(sequence, Workload.historyRow(id: id, status: status, amount: amount, now: now))
                        try outbox.append(sequence, Workload.outboxRow(id: id, status: status, amount: amount, now: now, offset: record.offset))
                    }
                    try transaction.commitOffset(group: group, topic: topic, partition: 0, offset: lastOffset + 1)
                }
                consumed += records.count
                next = lastOffset + 1
            }
            let seconds = ContinuousClock.now - started
            let commits = try store.statistics().commits - commitsBefore
            // Check that the work was done.
            let (committed, historyCount, outboxCount) = try store.read { transaction in
                (try transaction.committedOffset(group: group, topic: topic, partition: 0)?.offset,
                 try transaction.table("history")?.count(), try transaction.table("outbox")?.count())
            }
            guard consumed == total, committed == Int64(total), historyCount == total, outboxCount == total else {
                throw BenchError("consume: consumed \(consumed), committed \(committed ?? -1), history \(historyCount ?? -1), outbox \(outboxCount ?? -1), expected \(total)")
            }
            return AppendRun(seconds: seconds.seconds, commits: commits)
        }
    }

    // MARK: Summary

    mutating func printSummary() {
        print("Targets:")
        if let thousand = report.cases.first(where: { $0.name == "append-1000" }) {
            let perRecord = thousand.ratioToRawPerRecord ?? 0
            let perBatch = thousand.ratioToRawPerBatch ?? 0
            report.targets["append1000AtLeast0.7xRawPerRecord"] = perRecord >= 0.7
            report.targets["append1000AtLeast0.7xRawPerBatch"] = perBatch >= 0.7
            print("  append at 1000 records/commit >= 0.7x raw LMDB: \(Format.ratio(perRecord)) of per-record puts (\(perRecord >= 0.7 ? "met" : "MISSED")), \(Format.ratio(perBatch)) of one put per batch (\(perBatch >= 0.7 ? "met" : "MISSED"))")
        }
        for result in report.cases where result.name.hasPrefix("consume-") {
            let met = result.logStoreRecordsPerSecond >= 300_000
            report.targets["\(result.name)AtLeast300k"] = met
            print("  consume step at \(result.recordsPerCommit) records/commit >= 300,000 records/s: \(Format.rate(result.logStoreRecordsPerSecond)) (\(met ? "met" : "MISSED"))")
        }
        if let floor = report.durableCommitMilliseconds {
            print("  (one durable commit cost \(Format.fixed(floor, 3)) ms during this run, median of the raw 1 record/commit baselines;")
            print("   probes at start and end: \(report.durableCommitProbeMilliseconds.map { Format.fixed($0, 3) }.joined(separator: " / ")) ms)")
        }
        print("")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let json = (try? encoder.encode(report)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        print(json)
    }
}

// MARK: - Store and temp-dir helpers

func withStore<T: Sendable>(tmp: String, _ body: (LogStore) async throws -> T) async throws -> T {
    let directory = try TemporaryDirectory.make(parent: tmp, prefix: "logstore-bench-store")
    defer { TemporaryDirectory.remove(directory) }
    var configuration = LogStoreConfiguration(dataDirectory: directory)
    configuration.retentionCheckIntervalMilliseconds = 0
    let store = try LogStore(configuration: configuration, logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
    defer { store.close() }
    return try await body(store)
}

enum TemporaryDirectory {
    static func make(parent: String, prefix: String) throws -> String {
        var template = Array("\(parent)/\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in mkdtemp(buffer.baseAddress!) }
        guard let made else { throw BenchError("cannot create a temporary directory in \(parent): errno \(errno)") }
        return String(cString: made)
    }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Raw C baselines

enum Raw {
    static func appendPerRecord(records: Int, recordSize: Int, perCommit: Int, tmp: String) throws -> Double {
        try run(tmp: tmp, "raw_append_per_record") { raw_append_per_record($0, Int64(records), Int32(recordSize), Int32(perCommit)) }
    }

    static func appendPerBatch(records: Int, recordSize: Int, perCommit: Int, tmp: String) throws -> Double {
        try run(tmp: tmp, "raw_append_per_batch") { raw_append_per_batch($0, Int64(records), Int32(recordSize), Int32(perCommit)) }
    }

    static func consume(records: Int, recordSize: Int, perCommit: Int, tmp: String) throws -> Double {
        try run(tmp: tmp, "raw_consume_step") { raw_consume_step($0, Int64(records), Int32(recordSize), Int32(perCommit)) }
    }

    private static func run(tmp: String, _ name: String, _ body: (UnsafePointer<CChar>) -> Double) throws -> Double {
        let directory = try TemporaryDirectory.make(parent: tmp, prefix: "logstore-bench-raw")
        defer { TemporaryDirectory.remove(directory) }
        let seconds = directory.withCString { body($0) }
        guard seconds > 0 else { throw BenchError("\(name) failed (see stderr)") }
        return seconds
    }
}

// MARK: - Workload data (byte-identical to the C baselines')

enum Workload {
    /// `count` records with `size`-byte values and no key, as a producer would send them.
    static func appendRecords(count: Int, size: Int) -> [Record] {
        let value = (0..<size).map { UInt8(ascii: "a") + UInt8($0 % 26) }
        let now = raw_now_ms()
        return (0..<count).map { _ in Record(timestamp: now, key: nil, value: value) }
    }

    /// Payment results for orders `from..<from+count`: the value starts with the order's id.
    static func resultRecords(from: Int, count: Int, size: Int) -> [Record] {
        let now = raw_now_ms()
        return (from..<(from + count)).map { index in
            let value = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                raw_fill_result_value(Int64(index), buffer.baseAddress!, Int32(size))
                initialized = size
            }
            return Record(timestamp: now, key: nil, value: value)
        }
    }

    static func orderID(_ index: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Int(RAW_ORDER_ID_SIZE)) { buffer, initialized in
            raw_order_id(Int64(index), buffer.baseAddress!)
            initialized = Int(RAW_ORDER_ID_SIZE)
        }
    }

    static func order(_ index: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Int(RAW_ORDER_SIZE)) { buffer, initialized in
            raw_fill_order(Int64(index), buffer.baseAddress!)
            initialized = Int(RAW_ORDER_SIZE)
        }
    }

    static func historyRow(id: [UInt8], status: UInt8, amount: Int64, now: Int64) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Int(RAW_HISTORY_SIZE)) { buffer, initialized in
            raw_fill_history(id, status, amount, now, buffer.baseAddress!)
            initialized = Int(RAW_HISTORY_SIZE)
        }
    }

    static func outboxRow(id: [UInt8], status: UInt8, amount: Int64, now: Int64, offset: Int64) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Int(RAW_OUTBOX_SIZE)) { buffer, initialized in
            raw_fill_outbox(id, status, amount, now, offset, buffer.baseAddress!)
            initialized = Int(RAW_OUTBOX_SIZE)
        }
    }
}

// MARK: - Formatting and timing

enum Clock {
    static func measure(_ body: () throws -> Void) rethrows -> Double {
        let started = ContinuousClock.now
        try body()
        return (ContinuousClock.now - started).seconds
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}

extension Array where Element == Double {
    var mean: Double { isEmpty ? 0 : reduce(0, +) / Double(count) }
    var median: Double {
        guard !isEmpty else { return 0 }
        let sorted = self.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

enum Format {
    static func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
    static func rate(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        let whole = Int(value.rounded())
        var text = String(whole)
        var index = text.count - 3
        while index > 0 {
            text.insert(",", at: text.index(text.startIndex, offsetBy: index))
            index -= 3
        }
        return text
    }
    static func ratio(_ value: Double) -> String { value.isFinite ? String(format: "%.2fx", value) : "-" }
    static func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return left ? text + padding : padding + text
    }
}

enum Table {
    static func spread(_ values: [Double]) -> String {
        guard let low = values.min(), let high = values.max() else { return "" }
        return "\(Format.rate(low))-\(Format.rate(high))"
    }

    static func ratioSpread(_ values: [Double]?) -> String {
        guard let values, let low = values.min(), let high = values.max(), low.isFinite, high.isFinite else { return "" }
        return String(format: "%.2f-%.2f", low, high)
    }

    static let appendHeader = [
        Format.pad("case", 30, left: true), Format.pad("records", 9), Format.pad("commits", 8), Format.pad("LogStore/s", 11),
        Format.pad("raw put/rec/s", 13), Format.pad("ratio", 6), Format.pad("(rounds)", 11),
        Format.pad("raw put/batch/s", 15), Format.pad("ratio", 6), Format.pad("(rounds)", 11),
        Format.pad("LogStore/s range", 19),
    ].joined(separator: " ")

    static func appendRow(_ result: CaseResult) -> String {
        let perRecord = result.rawPerRecordRecordsPerSecond ?? []
        let perBatch = result.rawPerBatchRecordsPerSecond ?? []
        var name = result.name
        if let raw = result.rawRecordsPerCommit { name += " (raw@\(raw))" }
        return [
            Format.pad(name, 30, left: true), Format.pad(Format.rate(Double(result.records)), 9), Format.pad(String(result.logStoreCommits), 8),
            Format.pad(Format.rate(result.logStoreRecordsPerSecond), 11),
            Format.pad(Format.rate(perRecord.median), 13), Format.pad(Format.ratio(result.ratioToRawPerRecord ?? 0), 6),
            Format.pad(ratioSpread(result.ratiosToRawPerRecord), 11),
            Format.pad(Format.rate(perBatch.median), 15), Format.pad(Format.ratio(result.ratioToRawPerBatch ?? 0), 6),
            Format.pad(ratioSpread(result.ratiosToRawPerBatch), 11),
            Format.pad(spread(result.logStoreRecordsPerSecondRuns), 19),
        ].joined(separator: " ")
    }

    static let consumeHeader = [
        Format.pad("case", 30, left: true), Format.pad("records", 9), Format.pad("commits", 8), Format.pad("LogStore/s", 11),
        Format.pad("raw C step/s", 13), Format.pad("ratio", 6), Format.pad("(rounds)", 11), Format.pad("LogStore/s range", 19),
    ].joined(separator: " ")

    static func consumeRow(_ result: CaseResult) -> String {
        let raw = result.rawConsumeRecordsPerSecond ?? []
        return [
            Format.pad(result.name, 30, left: true), Format.pad(Format.rate(Double(result.records)), 9), Format.pad(String(result.logStoreCommits), 8),
            Format.pad(Format.rate(result.logStoreRecordsPerSecond), 11),
            Format.pad(Format.rate(raw.median), 13), Format.pad(Format.ratio(result.ratioToRawConsume ?? 0), 6),
            Format.pad(ratioSpread(result.ratiosToRawConsume), 11),
            Format.pad(spread(result.logStoreRecordsPerSecondRuns), 19),
        ].joined(separator: " ")
    }
}

enum Machine {
    static var cpuModel: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return "unknown CPU"
    }
}
