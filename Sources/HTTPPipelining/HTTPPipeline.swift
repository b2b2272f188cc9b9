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
            let wakeUps = state.withLock { state in
                precondition(state.waitingReader == nil, "one reader per connection")
                state.waitingReader = (overlapKey, continuation)
                return Self.wakeUps(&state)
            }
            wakeUps()
        }
    }

    /// Records request `sequence`'s answer; wakes the writer if the answer it waits for is here,
    /// and the reader if its request may start now.
    func answer(_ sequence: Int, overlapKey: String?, with answer: Answer) {
        let wakeUps = state.withLock { state in
            state.schedule.answer(sequence, overlapKey: overlapKey, with: answer)
            return Self.wakeUps(&state)
        }
        wakeUps()
    }

    /// The answers to write next, in order, waiting while the next one is still being worked
    /// on; nil when nothing more will come (reading finished and all written, or stopped).
    func nextWritable() async -> [Answer]? {
        await withCheckedContinuation { continuation in
            let wakeUps = state.withLock { state in
                precondition(state.waitingWriter == nil, "one writer per connection")
                state.waitingWriter = continuation
                return Self.wakeUps(&state)
            }
            wakeUps()
        }
    }

    /// No more requests: the writer ends after the answers of the admitted ones.
    func finishReading() {
        let wakeUps = state.withLock { state in
            state.schedule.finish()
            return Self.wakeUps(&state)
        }
        wakeUps()
    }

    /// The connection failed: the reader and the writer stop waiting (now or when they next ask).
    func stop() {
        let wakeUps = state.withLock { state in
            state.stopped = true
            return Self.wakeUps(&state)
        }
        wakeUps()
    }

    /// Who to resume with what, decided under the lock and done after it.
    private struct WakeUps {
        var writer: (continuation: CheckedContinuation<[Answer]?, Never>, answers: [Answer]?)?
        var reader: (continuation: CheckedContinuation<Int?, Never>, sequence: Int?)?

        func callAsFunction() {
            if let writer { writer.continuation.resume(returning: writer.answers) }
            if let reader { reader.continuation.resume(returning: reader.sequence) }
        }
    }

    /// Whoever is parked and may go on now: the writer first (what it takes frees pipeline
    /// depth the reader may be waiting for), then the reader. Every step parks its caller (if
    /// any) and then asks this, so the rules of who may go on live here once.
    private static func wakeUps(_ state: inout State) -> WakeUps {
        var wakeUps = WakeUps()
        if let writer = state.waitingWriter {
            let answers = state.stopped ? [] : state.schedule.takeWritable()
            if !answers.isEmpty || state.stopped || state.schedule.isComplete {
                state.waitingWriter = nil
                wakeUps.writer = (writer, answers.isEmpty ? nil : answers)
            }
        }
        if let reader = state.waitingReader {
            let sequence = state.stopped ? nil : state.schedule.admit(overlapKey: reader.overlapKey)
            if sequence != nil || state.stopped {
                state.waitingReader = nil
                wakeUps.reader = (reader.continuation, sequence)
            }
        }
        return wakeUps
    }
}
