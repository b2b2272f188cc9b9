import ArgumentParser
import Foundation
import Ledger
#if canImport(Glibc)
import Glibc
#endif

/// `paynode reconcile`: a PSP's settlement report against the ledger.
struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Match a PSP settlement report (Stripe itemized balance CSV, Adyen Settlement details CSV) against the ledger; exit 1 when anything does not match.",
        discussion: """
        Reads the ledger's data directory (stopped, or a copy of it, as `paynode ledger verify` does) and the \
        report; each settled payment and refund is matched with the ledger entry of the same PSP, kind and \
        reference. Prints matched, missing in the ledger, missing at the PSP and amount mismatches; --report \
        writes them as JSON, --metrics-file as Prometheus text (for node_exporter's textfile collector).
        """)

    @Option(name: .customLong("settlement"), help: "The settlement report (CSV).")
    var settlement: String

    @OptionGroup var ledger: DataDirectoryOptions

    @Option(name: .customLong("period-end"),
            help: "The end of the report's period (ISO 8601, e.g. 2026-12-01T00:00:00Z): ledger entries from then on are not expected in it.")
    var periodEnd: String?

    @Option(name: .customLong("report"), help: "Write the report as JSON to this file.")
    var reportFile: String?

    @Option(name: .customLong("metrics-file"), help: "Write paynode_reconciliation_items{psp,outcome} in Prometheus text format to this file.")
    var metricsFile: String?

    func run() async throws {
        guard let text = try? String(contentsOfFile: settlement, encoding: .utf8) else {
            throw ValidationError("--settlement \(settlement) cannot be read as UTF-8 text")
        }
        let parsed: SettlementReport.Parsed
        do {
            parsed = try SettlementReport.parse(text)
        } catch {
            throw ValidationError("--settlement \(settlement): \(error)")
        }
        var expectedBefore: Int64?
        if let periodEnd {
            guard let date = ISO8601DateFormatter().date(from: periodEnd) else {
                throw ValidationError("--period-end \(periodEnd) is not an ISO 8601 time such as 2026-12-01T00:00:00Z")
            }
            expectedBefore = Int64(date.timeIntervalSince1970 * 1000)
        }
        let directory = ledger.resolvedDataDirectory
        guard FileManager.default.fileExists(atPath: directory + "/data.mdb") else {
            throw ValidationError("no ledger store in \(directory) (data.mdb is missing)")
        }
        let store = try ledger.openStore()
        defer { store.close() }
        let report = Reconciliation.reconcile(parsed, entries: try LedgerStore(store: store).entries(psp: parsed.psp),
                                              expectedBefore: expectedBefore)
        print("reconciliation of \(parsed.psp) settlement \(settlement): \(report.matched) matched, \(report.missingInLedger.count) missing in the ledger, \(report.missingAtPSP.count) missing at \(parsed.psp), \(report.amountMismatches.count) amount mismatches")
        for (title, lines) in [("missing in the ledger", report.missingInLedger), ("missing at \(parsed.psp)", report.missingAtPSP),
                               ("amount mismatch", report.amountMismatches)] {
            for line in lines.prefix(100) {
                let ids = [line.paymentOrderId.map { "order \($0)" }, line.refundId.map { "refund \($0)" }, line.reportLine.map { "report line \($0)" }]
                    .compactMap { $0 }.joined(separator: ", ")
                print("  \(title): \(line.kind.rawValue) \(line.reference) ledger \(line.ledgerAmount.map(String.init) ?? "-") settled \(line.settledAmount.map(String.init) ?? "-") \(line.currency)\(ids.isEmpty ? "" : " (\(ids))")")
            }
        }
        if report.notYetSettled > 0 {
            print("  \(report.notYetSettled) ledger entries from --period-end on, not expected in this report")
        }
        if !report.skipped.isEmpty {
            print("  other rows, not matched: " + report.skipped.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if let reportFile {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            try encoder.encode(report).write(to: URL(fileURLWithPath: reportFile))
        }
        if let metricsFile {
            let outcomes = [("matched", report.matched), ("missing_in_ledger", report.missingInLedger.count),
                            ("missing_at_psp", report.missingAtPSP.count), ("amount_mismatch", report.amountMismatches.count), ("not_yet_settled", report.notYetSettled)]
            var text = "# HELP paynode_reconciliation_items Settlement report items by outcome of the last reconciliation.\n"
            text += "# TYPE paynode_reconciliation_items gauge\n"
            for (outcome, count) in outcomes { text += "paynode_reconciliation_items{psp=\"\(parsed.psp)\",outcome=\"\(outcome)\"} \(count)\n" }
            // Written whole, then renamed: the collector never reads half a file.
            let temporary = metricsFile + ".tmp"
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, metricsFile) == 0 else { throw ValidationError("--metrics-file \(metricsFile) cannot be written (errno \(errno))") }
        }
        if !report.isClean { throw ExitCode(1) }
    }
}
