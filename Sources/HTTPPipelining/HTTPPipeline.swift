import Synchronization

/// One connection's `PipelineSchedule`, shared by its reader (which admits requests), the
/// requests' tasks (which answer) and its writer (which takes answers in order). The reader and
/// the writer each wait here when they cannot go on; a lock, not an actor, because every step
/// is a few field updates.
final class HTTPPipeline<Answer: Sendable>: Sendable {
    private struct State {
        var schedule: PipelineSchedule<Answer>
        /// Stopped: the connection failed; waiting readers and writers get nil.
        var stopped = false
        var waitingReader: (overlapKey: String?, continuation: CheckedContinuation<Int?, Never>)?
        var waitingWriter: CheckedContinuation<[Answer]?, Never>?
    }

    private let state: Mutex<State>

    init(maximumDepth: Int) {
        state = Mutex(State(schedule: PipelineSchedule(maximumDepth: maximumDepth)))
    }

    /// Waits until the next request may start and returns its sequence number; nil once the
    /// pipeline stopped.
    func admit(overlapKey: String?) async -> Int? {
        await withCheckedContinuation { continuation in
            // nil: wait (the continuation is parked); .some(answer): resume now with it.
            let admitted: Int?? = state.withLock { state in
                if state.stopped { return .some(nil) }
                if let sequence = state.schedule.admit(overlapKey: overlapKey) { return sequence }
                precondition(state.waitingReader == nil, "one reader per connection")
                state.waitingReader = (overlapKey, continuation)
                return nil
            }
            if let admitted { continuation.resume(returning: admitted) }
        }
    }

    /// Records request `sequence`'s answer; wakes the reader if a waiting request may start now
    /// and the writer if the answer it waits for is here.
    func answer(_ sequence: Int, overlapKey: String?, with answer: Answer) {
        let (writer, reader) = state.withLock { state in
            state.schedule.answer(sequence, overlapKey: overlapKey, with: answer)
            // The writer first: what it takes frees pipeline depth the reader may be waiting for.
            let writer = Self.serveWaitingWriter(&state)
            return (writer, Self.admitWaitingReader(&state))
        }
        reader?()
        writer?()
    }

    /// The answers to write next, in order, waiting while the next one is still being worked
    /// on; nil when nothing more will come (reading finished and all written, or stopped).
    func nextWritable() async -> [Answer]? {
        await withCheckedContinuation { continuation in
            // ready nil: wait (the continuation is parked); .some(answer): resume now with it.
            let (ready, reader): ([Answer]??, (() -> Void)?) = state.withLock { state in
                if state.stopped { return (.some(nil), nil) }
                let answers = state.schedule.takeWritable()
                if !answers.isEmpty { return (answers, Self.admitWaitingReader(&state)) }
                if state.schedule.isComplete { return (.some(nil), nil) }
                precondition(state.waitingWriter == nil, "one writer per connection")
                state.waitingWriter = continuation
                return (nil, nil)
            }
            reader?()
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// No more requests: the writer ends after the answers of the admitted ones.
    func finishReading() {
        let writer = state.withLock { state in
            state.schedule.finish()
            return Self.serveWaitingWriter(&state)
        }
        writer?()
    }

    /// The connection failed: the reader and the writer stop waiting.
    func stop() {
        let (reader, writer) = state.withLock { state in
            state.stopped = true
            defer { state.waitingReader = nil; state.waitingWriter = nil }
            return (state.waitingReader?.continuation, state.waitingWriter)
        }
        reader?.resume(returning: nil)
        writer?.resume(returning: nil)
    }

    /// The waiting reader's resumption if its request may start now (run it after the lock).
    private static func admitWaitingReader(_ state: inout State) -> (() -> Void)? {
        guard let waiting = state.waitingReader, let sequence = state.schedule.admit(overlapKey: waiting.overlapKey) else { return nil }
        state.waitingReader = nil
        return { waiting.continuation.resume(returning: sequence) }
    }

    /// The waiting writer's resumption if there is something for it (run it after the lock).
    private static func serveWaitingWriter(_ state: inout State) -> (() -> Void)? {
        guard let writer = state.waitingWriter else { return nil }
        let answers = state.schedule.takeWritable()
        if answers.isEmpty && !state.schedule.isComplete { return nil }
        state.waitingWriter = nil
        return { writer.resume(returning: answers.isEmpty ? nil : answers) }
    }
}
