/// What a PSP said about a payment order.
public enum PspStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case successful = "SUCCESSFUL"
    case failed = "FAILED"
    case pending = "PENDING"
}

/// A payment order's status. PENDING may become SUCCESSFUL or FAILED; terminal states are sticky.
public enum PaymentStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case pending = "PENDING"
    case successful = "SUCCESSFUL"
    case failed = "FAILED"

    public var isTerminal: Bool { self != .pending }
}

/// One PSP result as the consumer hands it to `ProcessPaymentService`.
public struct PspResult: Sendable, Hashable {
    public var paymentOrderID: PaymentOrderID
    public var status: PspStatus
    public var pspReference: String?
    public var eventTimeMilliseconds: Int64
    public var errorCode: String?
    public var errorMessage: String?
    public var psp: String
    public var pspEventID: String?

    public init(paymentOrderID: PaymentOrderID, status: PspStatus, pspReference: String? = nil, eventTimeMilliseconds: Int64,
                errorCode: String? = nil, errorMessage: String? = nil, psp: String, pspEventID: String? = nil) {
        self.paymentOrderID = paymentOrderID
        self.status = status
        self.pspReference = pspReference
        self.eventTimeMilliseconds = eventTimeMilliseconds
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.psp = psp
        self.pspEventID = pspEventID
    }

    /// What makes two deliveries "the same result": everything the PSP said, not when or how it
    /// was delivered. The PSP event id names a delivery, not what it says: the executor's own
    /// result and the PSP's webhook for one payment report the same outcome under different
    /// ids, and must read as a duplicate, not a conflict. FNV-1a over a canonical encoding, so
    /// it is stable across processes.
    public var contentHash: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ text: String?) {
            for byte in (text ?? "\u{0}").utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01B3
            }
            hash ^= 0x1F
            hash = hash &* 0x0000_0100_0000_01B3
        }
        mix(status.rawValue)
        mix(pspReference)
        mix(errorCode)
        mix(errorMessage)
        mix(psp)
        // 0 means "not seen" in the stored order record.
        return hash == 0 ? 1 : hash
    }
}
