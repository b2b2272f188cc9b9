/// How many offsets a consumer group still has to read on one partition. Both offsets come from
/// clients or from stores, so the difference saturates instead of trapping: a commit past the end
/// is no lag, one far below it (even `Int64.min`) is at most `Int64.max`.
public func consumerLag(endOffset: Int64, committedOffset: Int64) -> Int64 {
    let (lag, overflow) = endOffset.subtractingReportingOverflow(committedOffset)
    if overflow { return committedOffset < 0 ? .max : 0 }
    return max(0, lag)
}
