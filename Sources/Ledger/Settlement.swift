import Foundation

/// One money movement a PSP's settlement report says it settled.
public struct SettlementItem: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case payment
        case refund
    }

    public var kind: Kind
    public var psp: String
    /// What it is matched by: the payment's PSP reference (Stripe's `pi_`, Adyen's Psp
    /// Reference) or the refund's (Stripe's `re_`, Adyen's Modification Reference).
    public var reference: String
    /// Positive, in minor units of `currency` (a refund's too).
    public var amountMinor: Int64
    public var currency: String
    /// The report's line (1 = the header), for the report.
    public var line: Int
}

/// Why a settlement report cannot be read.
public struct SettlementReportError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
}

/// Settlement reports as the PSPs document them, read into `SettlementItem`s. Rows of other
/// kinds (fees, payouts, corrections, chargebacks) are counted, not matched: the ledger
/// records payments and refunds.
///
/// - Stripe's itemized balance reports (`balance_change_from_activity.itemized.*`, the
///   "Balance" report's CSV): `reporting_category` `charge` is a payment matched by
///   `payment_intent_id`, `refund` a refund matched by `source_id` (the `re_`); `gross` is a
///   decimal in major units (a refund's negative), `currency` lower-case.
/// - Adyen's Settlement details report: `Type` `Settled` is a payment matched by `Psp Reference`
///   with `Gross Credit (GC)`, `Refunded` a refund matched by `Modification Reference` with
///   `Gross Debit (GC)`, both in `Gross Currency`, decimals in major units.
public enum SettlementReport {
    public struct Parsed: Sendable, Hashable {
        public var psp: String
        public var items: [SettlementItem]
        /// Rows of other types, by type (not matched).
        public var skipped: [String: Int]
    }

    /// The most rows one report may have (a report is read whole into memory).
    public static let maximumRows = 5_000_000

    public static func parse(_ text: String) throws(SettlementReportError) -> Parsed {
        let rows = try CSV.rows(text, maximumRows: maximumRows)
        guard let header = rows.first else { throw SettlementReportError(description: "the report is empty") }
        let columns = Dictionary(header.enumerated().map { ($1.trimmingCharacters(in: .whitespaces), $0) }, uniquingKeysWith: { first, _ in first })
        if columns["reporting_category"] != nil {
            return try parseStripe(rows, columns)
        }
        if columns["Type"] != nil, columns["Psp Reference"] != nil {
            return try parseAdyen(rows, columns)
        }
        throw SettlementReportError(description: "the header is neither a Stripe balance report's (reporting_category, ...) nor an Adyen Settlement details report's (Psp Reference, Type, ...)")
    }

    private static func parseStripe(_ rows: [[String]], _ columns: [String: Int]) throws(SettlementReportError) -> Parsed {
        for name in ["reporting_category", "gross", "currency", "source_id", "payment_intent_id"] where columns[name] == nil {
            throw SettlementReportError(description: "the Stripe report has no \(name) column")
        }
        var parsed = Parsed(psp: "stripe", items: [], skipped: [:])
        for (index, row) in rows.enumerated().dropFirst() where !(row.count == 1 && row[0].isEmpty) {
            func field(_ name: String) -> String { columns[name].flatMap { $0 < row.count ? row[$0] : nil } ?? "" }
            let category = field("reporting_category")
            let kind: SettlementItem.Kind
            let reference: String
            switch category {
            case "charge":
                kind = .payment
                reference = field("payment_intent_id")
            case "refund":
                kind = .refund
                reference = field("source_id")
            default:
                parsed.skipped[category.isEmpty ? "(none)" : category, default: 0] += 1
                continue
            }
            let currency = field("currency").uppercased()
            guard let amount = minorUnits(field("gross"), currency: currency), !reference.isEmpty, isCurrency(currency) else {
                throw SettlementReportError(description: "line \(index + 1): a \(category) row needs a reference, a currency and a decimal gross amount")
            }
            parsed.items.append(SettlementItem(kind: kind, psp: "stripe", reference: reference, amountMinor: abs(amount), currency: currency,
                                               line: index + 1))
        }
        return parsed
    }

    private static func parseAdyen(_ rows: [[String]], _ columns: [String: Int]) throws(SettlementReportError) -> Parsed {
        for name in ["Modification Reference", "Gross Currency", "Gross Debit (GC)", "Gross Credit (GC)"] where columns[name] == nil {
            throw SettlementReportError(description: "the Adyen report has no \(name) column")
        }
        var parsed = Parsed(psp: "adyen", items: [], skipped: [:])
        for (index, row) in rows.enumerated().dropFirst() where !(row.count == 1 && row[0].isEmpty) {
            func field(_ name: String) -> String { columns[name].flatMap { $0 < row.count ? row[$0] : nil } ?? "" }
            let type = field("Type")
            let kind: SettlementItem.Kind
            let reference: String
            let amountText: String
            switch type {
            case "Settled":
                kind = .payment
                reference = field("Psp Reference")
                amountText = field("Gross Credit (GC)")
            case "Refunded":
                kind = .refund
                reference = field("Modification Reference")
                amountText = field("Gross Debit (GC)")
            default:
                parsed.skipped[type.isEmpty ? "(none)" : type, default: 0] += 1
                continue
            }
            let currency = field("Gross Currency").uppercased()
            guard let amount = minorUnits(amountText, currency: currency), !reference.isEmpty, isCurrency(currency) else {
                throw SettlementReportError(description: "line \(index + 1): a \(type) row needs a reference, a currency and a decimal gross amount")
            }
            parsed.items.append(SettlementItem(kind: kind, psp: "adyen", reference: reference, amountMinor: abs(amount), currency: currency,
                                               line: index + 1))
        }
        return parsed
    }

    /// ISO 4217 currencies without minor units; every other has two (the three-decimal ones,
    /// BHD, JOD, KWD, OMR, TND, have three).
    static let zeroDecimal: Set<String> = ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]
    static let threeDecimal: Set<String> = ["BHD", "JOD", "KWD", "OMR", "TND"]

    /// "12.34" (or "-12.34", "12", "1,234.50") in major units as minor units of `currency`;
    /// nil for anything else, or for more decimals than the currency has.
    static func minorUnits(_ text: String, currency: String) -> Int64? {
        let decimals = zeroDecimal.contains(currency) ? 0 : threeDecimal.contains(currency) ? 3 : 2
        var digits = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ",", with: "")
        var negative = false
        if digits.hasPrefix("-") {
            negative = true
            digits.removeFirst()
        }
        let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              parts.count == 1 || parts[1].count <= decimals, parts[0].count <= 15 else { return nil }
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        let padded = fraction + String(repeating: "0", count: decimals - fraction.count)
        guard let whole = Int64(parts[0]), let cents = padded.isEmpty ? 0 : Int64(padded) else { return nil }
        var scale: Int64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let value = whole * scale + cents
        return negative ? -value : value
    }

    static func isCurrency(_ text: String) -> Bool { AccountID.isCurrency(text) }
}

/// A minimal RFC 4180 reader: commas, double-quoted fields with doubled quotes, CRLF or LF.
enum CSV {
    static func rows(_ text: String, maximumRows: Int) throws(SettlementReportError) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var atFieldStart = true
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let scalar = pending {
                pending = nil
                return scalar
            }
            return iterator.next()
        }
        while let scalar = next() {
            if quoted {
                if scalar == "\"" {
                    if let following = next() {
                        if following == "\"" {
                            field.unicodeScalars.append("\"")
                        } else {
                            quoted = false
                            pending = following
                        }
                    } else {
                        quoted = false
                    }
                } else {
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"" where atFieldStart:
                quoted = true
                atFieldStart = false
            case ",":
                row.append(field)
                field = ""
                atFieldStart = true
            case "\n", "\r":
                if scalar == "\r", let following = next(), following != "\n" { pending = following }
                row.append(field)
                rows.append(row)
                guard rows.count <= maximumRows else { throw SettlementReportError(description: "the report has more than \(maximumRows) rows") }
                row = []
                field = ""
                atFieldStart = true
            default:
                field.unicodeScalars.append(scalar)
                atFieldStart = false
            }
        }
        if quoted { throw SettlementReportError(description: "the report ends inside a quoted field") }
        if !field.isEmpty || !row.isEmpty {
            row.append(field)
            rows.append(row)
        }
        return rows
    }
}

/// A settlement report against the ledger's entries of the same PSP.
public struct ReconciliationReport: Sendable, Hashable, Codable {
    public struct Line: Sendable, Hashable, Codable {
        public var kind: SettlementItem.Kind
        public var reference: String
        public var paymentOrderId: String?
        public var refundId: String?
        public var ledgerAmount: Int64?
        public var settledAmount: Int64?
        public var currency: String
        /// The report's line, when the PSP reported it.
        public var reportLine: Int?
    }

    public var psp: String
    public var matched: Int
    /// Settled by the PSP, absent from the ledger (or of another kind there).
    public var missingInLedger: [Line]
    /// In the ledger, absent from the report.
    public var missingAtPSP: [Line]
    /// In both under the same reference, with other amounts or currencies.
    public var amountMismatches: [Line]
    /// The report's rows of other types, by type.
    public var skipped: [String: Int]
    /// Ledger entries after the report's period that it does not have (settled later).
    public var notYetSettled: Int = 0

    public var isClean: Bool { missingInLedger.isEmpty && missingAtPSP.isEmpty && amountMismatches.isEmpty }
}

public enum Reconciliation {
    /// Matches each settled item with the ledger entry of its PSP, kind and reference. A report
    /// covers a period: ledger entries that occurred at or after `expectedBefore` (Unix ms) are
    /// matched when the report has them but not reported missing when it does not, because the
    /// PSP settles them in a later report.
    public static func reconcile(_ report: SettlementReport.Parsed, entries: [LedgerEntry],
                                 expectedBefore: Int64? = nil) -> ReconciliationReport {
        var byReference: [String: LedgerEntry] = [:]
        for entry in entries where entry.psp == report.psp {
            guard let reference = entry.pspReference else { continue }
            byReference["\(entry.kind.rawValue):\(reference)"] = entry
        }
        var result = ReconciliationReport(psp: report.psp, matched: 0, missingInLedger: [], missingAtPSP: [], amountMismatches: [],
                                          skipped: report.skipped)
        var seen = Set<String>()
        for item in report.items {
            let key = "\(item.kind.rawValue):\(item.reference)"
            guard let entry = byReference[key] else {
                result.missingInLedger.append(.init(kind: item.kind, reference: item.reference, settledAmount: item.amountMinor,
                                                    currency: item.currency, reportLine: item.line))
                continue
            }
            seen.insert(key)
            if entry.amount == item.amountMinor && entry.currency == item.currency {
                result.matched += 1
            } else {
                result.amountMismatches.append(.init(kind: item.kind, reference: item.reference, paymentOrderId: entry.paymentOrderId,
                                                     refundId: entry.refundId, ledgerAmount: entry.amount, settledAmount: item.amountMinor,
                                                     currency: item.currency == entry.currency ? item.currency : "\(entry.currency)/\(item.currency)",
                                                     reportLine: item.line))
            }
        }
        for (key, entry) in byReference.sorted(by: { $0.value.sequence < $1.value.sequence }) where !seen.contains(key) {
            if let expectedBefore, entry.occurredAt >= expectedBefore {
                result.notYetSettled += 1
                continue
            }
            result.missingAtPSP.append(.init(kind: SettlementItem.Kind(rawValue: entry.kind.rawValue) ?? .payment, reference: entry.pspReference ?? "",
                                             paymentOrderId: entry.paymentOrderId, refundId: entry.refundId, ledgerAmount: entry.amount,
                                             currency: entry.currency))
        }
        return result
    }
}
