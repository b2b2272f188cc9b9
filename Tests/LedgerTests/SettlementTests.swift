import Foundation
@testable import Ledger
import Testing

@Suite("Settlement reports against the ledger")
struct SettlementTests {
    static func entry(_ sequence: UInt64, _ kind: TransferRequest.Kind, reference: String, amount: Int64, psp: String = "stripe",
                      occurredAt: Int64 = 1) -> LedgerEntry {
        let wallet = AccountID("merchant:EUR:m_1")!
        let clearing = AccountID("psp:EUR:\(psp)")!
        return LedgerEntry(sequence: sequence, transferId: "\(kind.rawValue):\(sequence)", kind: kind,
                           debit: kind == .payment ? clearing : wallet, credit: kind == .payment ? wallet : clearing, amount: amount,
                           currency: "EUR", paymentOrderId: "o\(sequence)", refundId: kind == .refund ? "o\(sequence)-r1" : nil,
                           merchantId: "m_1", psp: psp, pspReference: reference, occurredAt: occurredAt, source: EventSource(topic: "payment-events", partition: 0, offset: Int64(sequence)),
                           postedAt: 1, prevHash: "")
    }

    @Test func aStripeReportFindsExactlyThePlantedDifferences() throws {
        let csv = """
        balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,payment_intent_id,description
        txn_1,2026-12-04 10:00:00,eur,50.00,-1.00,49.00,charge,ch_1,pi_1,"Order, one"
        txn_2,2026-12-04 10:01:00,eur,12.34,-0.50,11.84,charge,ch_2,pi_2,
        txn_3,2026-12-04 10:02:00,eur,-5.00,0.00,-5.00,refund,re_1,pi_1,
        txn_4,2026-12-04 10:03:00,eur,9.99,-0.30,9.69,charge,ch_9,pi_9,
        txn_5,2026-12-04 10:04:00,eur,-2.00,0.00,-2.00,fee,,,"Stripe ""fee"" row"

        """
        let parsed = try SettlementReport.parse(csv)
        #expect(parsed.psp == "stripe" && parsed.items.count == 4 && parsed.skipped == ["fee": 1])
        #expect(parsed.items[1].amountMinor == 1234 && parsed.items[2].kind == .refund && parsed.items[2].amountMinor == 500)
        let entries = [Self.entry(0, .payment, reference: "pi_1", amount: 5000), Self.entry(1, .payment, reference: "pi_2", amount: 1200),
                       Self.entry(2, .refund, reference: "re_1", amount: 500), Self.entry(3, .payment, reference: "pi_3", amount: 100),
                       Self.entry(4, .payment, reference: "P1", amount: 100, psp: "adyen")]
        let report = Reconciliation.reconcile(parsed, entries: entries)
        #expect(report.matched == 2)
        #expect(report.missingInLedger.map(\.reference) == ["pi_9"] && report.missingInLedger[0].reportLine == 5)
        #expect(report.missingAtPSP.map(\.reference) == ["pi_3"] && report.missingAtPSP[0].paymentOrderId == "o3")
        #expect(report.amountMismatches.map(\.reference) == ["pi_2"] && report.amountMismatches[0].ledgerAmount == 1200
                && report.amountMismatches[0].settledAmount == 1234)
        #expect(!report.isClean)
    }

    @Test func anAdyenReportMatchesSettledAndRefundedRows() throws {
        let csv = "Company Account,Merchant Account,Psp Reference,Merchant Reference,Payment Method,Creation Date,TimeZone,Type,Modification Reference,Gross Currency,Gross Debit (GC),Gross Credit (GC),Exchange Rate,Net Currency,Net Debit (NC),Net Credit (NC)\r\n"
            + "Co,Shop,P1,o1,visa,2026-12-04 10:00:00,CET,Settled,M1,EUR,,10.00,1,EUR,,9.80\r\n"
            + "Co,Shop,P1,o1,visa,2026-12-04 11:00:00,CET,Refunded,RF1,EUR,4.00,,1,EUR,4.00,\r\n"
            + "Co,Shop,,,,2026-12-04 12:00:00,CET,Fee,Transaction Fees,EUR,,,,EUR,0.20,\r\n"
            + "Co,Shop,,,,2026-12-04 12:00:00,CET,MerchantPayout,,EUR,,,,EUR,5.60,\r\n"
        let parsed = try SettlementReport.parse(csv)
        #expect(parsed.psp == "adyen" && parsed.skipped == ["Fee": 1, "MerchantPayout": 1])
        let report = Reconciliation.reconcile(parsed, entries: [Self.entry(0, .payment, reference: "P1", amount: 1000, psp: "adyen"),
                                                                 Self.entry(1, .refund, reference: "RF1", amount: 400, psp: "adyen")])
        #expect(report.matched == 2 && report.isClean)
    }

    @Test func entriesAfterTheReportsPeriodAreNotMissingAtThePSP() throws {
        let csv = "reporting_category,gross,currency,source_id,payment_intent_id\ncharge,10.00,eur,ch_1,pi_1\ncharge,1.00,eur,ch_4,pi_4\n"
        let parsed = try SettlementReport.parse(csv)
        let entries = [Self.entry(0, .payment, reference: "pi_1", amount: 1000, occurredAt: 500),
                       Self.entry(1, .payment, reference: "pi_2", amount: 1000, occurredAt: 999),
                       Self.entry(2, .payment, reference: "pi_3", amount: 1000, occurredAt: 1000),
                       Self.entry(3, .payment, reference: "pi_4", amount: 100, occurredAt: 2000)]
        let report = Reconciliation.reconcile(parsed, entries: entries, expectedBefore: 1000)
        // pi_4 is after the period but the PSP has it: matched all the same.
        #expect(report.matched == 2 && report.notYetSettled == 1)
        #expect(report.missingAtPSP.map(\.reference) == ["pi_2"])
    }

    @Test func badReportsAreRefusedNamingTheProblem() {
        for (csv, problem) in [("", "empty"), ("a,b,c\n1,2,3", "neither"), ("reporting_category,gross\ncharge,1", "no currency column"),
                               ("reporting_category,gross,currency,source_id,payment_intent_id\ncharge,1.234,eur,ch,pi", "line 2"),
                               ("reporting_category,gross,currency,source_id,payment_intent_id\ncharge,\"1.00", "quoted")] {
            #expect {
                _ = try SettlementReport.parse(csv)
            } throws: { error in
                "\(error)".contains(problem)
            }
        }
        // Zero-decimal currencies take no decimals.
        let yen = try? SettlementReport.parse("reporting_category,gross,currency,source_id,payment_intent_id\ncharge,500,jpy,ch,pi")
        #expect(yen?.items.first?.amountMinor == 500)
    }
}
