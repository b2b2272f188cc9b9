/// When a connection's pipelined HTTP/1.1 requests may start, and which answers may be written:
/// the pipelining rules as a state machine, free of I/O (`HTTPPipeline` drives it).
///
/// Requests start in arrival order and their answers are written in arrival order (RFC 9112
/// section 9.3.2). A request may start while earlier ones are still running only if it commutes
/// with them: it has an overlap key (`PipelinedHTTP1Channel.OverlapKey`), every running request
/// has one too, and no running request has the same key. Anything else (a GET, a request
/// without a key, a second request with a running request's key) waits until every earlier
/// request has been answered, so it sees their effects exactly as if the connection had been
/// served one request at a time. Two requests that commute may take effect in either order:
/// nobody can tell, which is what makes running them side by side the same as running them in
/// turn.
public struct PipelineSchedule<Answer>: Sendable where Answer: Sendable {
    /// Requests admitted and not yet taken by the writer; admission stops at this many.
    public let maximumDepth: Int

    /// Overlap keys of the requests running now (started, not answered).
    private var runningKeys: Set<String> = []
    /// A request without an overlap key is running (then alone).
    private var runningExclusive = false
    /// The sequence number the next admitted request gets.
    private var nextSequence = 0
    /// The sequence number the writer needs next; answers after a gap wait for it.
    private var nextToWrite = 0
    /// Answers not written yet, by sequence number.
    private var answers: [Int: Answer] = [:]
    /// No more requests come (end of input, a parse error, `Connection: close`).
    private var finished = false

    public init(maximumDepth: Int) {
        precondition(maximumDepth > 0, "a pipeline holds at least one request")
        self.maximumDepth = maximumDepth
    }

    /// Admits the next request if it may start now: its sequence number, else nil (ask again
    /// after the next `answer` or `takeWritable`).
    public mutating func admit(overlapKey: String?) -> Int? {
        guard !finished, nextSequence - nextToWrite < maximumDepth else { return nil }
        if let overlapKey {
            guard !runningExclusive, !runningKeys.contains(overlapKey) else { return nil }
            runningKeys.insert(overlapKey)
        } else {
            guard !runningExclusive, runningKeys.isEmpty else { return nil }
            runningExclusive = true
        }
        defer { nextSequence += 1 }
        return nextSequence
    }

    /// The request `sequence` (admitted with `overlapKey`) has its answer.
    public mutating func answer(_ sequence: Int, overlapKey: String?, with answer: Answer) {
        precondition(sequence >= nextToWrite && sequence < nextSequence && answers[sequence] == nil,
                     "request \(sequence) answered twice or never admitted")
        if let overlapKey {
            runningKeys.remove(overlapKey)
        } else {
            runningExclusive = false
        }
        answers[sequence] = answer
    }

    /// Answers the writer may write now, in order: every answer from the next one to write up
    /// to the first request still running. Empty when the next one is still running.
    public mutating func takeWritable() -> [Answer] {
        var ready: [Answer] = []
        while let answer = answers.removeValue(forKey: nextToWrite) {
            ready.append(answer)
            nextToWrite += 1
        }
        return ready
    }

    /// No request follows; the writer stops once every admitted request's answer is written.
    public mutating func finish() {
        finished = true
    }

    /// Reading has finished and every admitted request's answer has been taken.
    public var isComplete: Bool { finished && nextToWrite == nextSequence }

    /// Requests admitted whose answers have not been taken by the writer.
    public var inFlight: Int { nextSequence - nextToWrite }
}
