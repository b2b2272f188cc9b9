import Payments
import Testing
@testable import PaymentService

/// The read queries' parameters, validated by the core before anything is read.
@Suite("Order queries")
struct PaymentQueriesTests {
    static let id = "01a20a1d-1df5-7000-82b1-4b8a7559036f"

    @Test func anAbsentParameterTakesItsDefault() throws {
        #expect(try OrderListQuery.parse(status: nil, limit: nil, cursor: nil) == OrderListQuery(status: nil, limit: 50, cursor: nil))
        #expect(try OrderPageCursor.history(nil) == 0)
        #expect(try OrderPageCursor.audit(nil) == 0)
    }

    @Test func validParametersAreParsed() throws {
        let query = try OrderListQuery.parse(status: "FAILED", limit: "500", cursor: Self.id)
        #expect(query == OrderListQuery(status: .failed, limit: 500, cursor: PaymentOrderID(Self.id)))
        #expect(try OrderListQuery.parse(status: nil, limit: "1", cursor: nil).limit == 1)
        #expect(try OrderPageCursor.history("7") == 7)
        #expect(try OrderPageCursor.audit("18446744073709551615") == UInt64.max)
    }

    @Test(arguments: [
        ("pending", nil, nil, "invalid_status"), ("", nil, nil, "invalid_status"),
        (nil, "0", nil, "invalid_limit"), (nil, "501", nil, "invalid_limit"), (nil, "ten", nil, "invalid_limit"),
        (nil, nil, "not-an-id", "invalid_cursor"), (nil, nil, "", "invalid_cursor"),
        // Checked in order: the status first, then the limit, then the cursor.
        ("nope", "0", "x", "invalid_status"), (nil, "0", "x", "invalid_limit"),
    ] as [(String?, String?, String?, String)])
    func invalidListParametersAreRefused(status: String?, limit: String?, cursor: String?, code: String) {
        #expect(throws: PaymentRequestError.self) { try OrderListQuery.parse(status: status, limit: limit, cursor: cursor) }
        do {
            _ = try OrderListQuery.parse(status: status, limit: limit, cursor: cursor)
        } catch {
            #expect(error.code == code)
        }
    }

    @Test(arguments: ["-1", "x", "", "1.5"])
    func invalidPageCursorsAreRefused(_ text: String) {
        #expect(throws: PaymentRequestError(code: "invalid_history_cursor",
                                            message: "historyCursor must be a non-negative integer (historyNextCursor of the previous page)")) {
            try OrderPageCursor.history(text)
        }
        #expect(throws: PaymentRequestError(code: "invalid_cursor",
                                            message: "cursor must be a non-negative integer (nextCursor of the previous page)")) {
            try OrderPageCursor.audit(text)
        }
    }
}
