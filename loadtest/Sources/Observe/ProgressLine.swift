import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A live status line on stderr once a second: elapsed time against the planned duration as a
/// bar, operations sent and their rate, completions and their rate, in-flight (lag), retries and
/// failures, kills. On a terminal it redraws one line; otherwise (CI logs) it prints a line every
/// five seconds.
struct ProgressLine: Sendable {
    let ledger: RunLedger
    let plannedSeconds: Double
    let faults: FaultInjector?

    func run() async {
        let isTerminal = isatty(2) != 0
        var lastSent = 0, lastCompleted = 0, tick = 0
        while !Task.isCancelled {
            do { try await Task.sleep(for: .seconds(1)) } catch { break }
            tick += 1
            let elapsed = Double(ledger.clock.now()) / 1_000_000
            let sent = ledger.sent.load(ordering: .relaxed)
            let accepted = ledger.acceptedCount
            let completed = ledger.completedCount
            let fraction = min(1, plannedSeconds > 0 ? elapsed / plannedSeconds : 0)
            let filled = Int(fraction * 20)
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 20 - filled)
            let kills = faults?.killCounts.sorted { $0.key < $1.key }.map { "\($0.key.prefix(1))\($0.value)" }.joined(separator: "/") ?? ""
            let line = String(format: "[%@] %5.1fs sent %d (%d/s) done %d (%d/s) lag %d retries %d errors %d%@",
                              bar, elapsed, sent, sent - lastSent, completed, completed - lastCompleted,
                              max(0, max(accepted, ledger.resultsProduced.load(ordering: .relaxed) > 0 ? sent : accepted) - completed),
                              ledger.retries.load(ordering: .relaxed), ledger.failures.load(ordering: .relaxed),
                              kills.isEmpty ? "" : " kills " + kills)
            lastSent = sent
            lastCompleted = completed
            if isTerminal {
                FileHandle.standardError.write(Data(("\r" + line + "\u{1B}[K").utf8))
            } else if tick % 5 == 0 {
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        }
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
