import Testing
@testable import HTTPPipelining

@Suite("Pipeline schedule")
struct PipelineScheduleTests {
    @Test func requestsWithDifferentKeysRunTogetherAndAnswerInOrder() {
        var schedule = PipelineSchedule<String>(maximumDepth: 8)
        #expect(schedule.admit(overlapKey: "a") == 0)
        #expect(schedule.admit(overlapKey: "b") == 1)
        #expect(schedule.admit(overlapKey: "c") == 2)
        // Answered last to first: nothing may be written before the first answer.
        schedule.answer(2, overlapKey: "c", with: "C")
        schedule.answer(1, overlapKey: "b", with: "B")
        #expect(schedule.takeWritable().isEmpty)
        schedule.answer(0, overlapKey: "a", with: "A")
        #expect(schedule.takeWritable() == ["A", "B", "C"])
        #expect(schedule.inFlight == 0)
    }

    @Test func aRepeatedKeyWaitsForTheRunningRequestWithIt() {
        var schedule = PipelineSchedule<String>(maximumDepth: 8)
        #expect(schedule.admit(overlapKey: "a") == 0)
        #expect(schedule.admit(overlapKey: "a") == nil)
        schedule.answer(0, overlapKey: "a", with: "first")
        // Answered, not yet written: the second may start (it sees the first's effect).
        #expect(schedule.admit(overlapKey: "a") == 1)
        schedule.answer(1, overlapKey: "a", with: "replay")
        #expect(schedule.takeWritable() == ["first", "replay"])
    }

    @Test func aRequestWithoutKeyWaitsForAllBeforeItAndHoldsBackAllAfterIt() {
        var schedule = PipelineSchedule<String>(maximumDepth: 8)
        #expect(schedule.admit(overlapKey: "a") == 0)
        #expect(schedule.admit(overlapKey: "b") == 1)
        #expect(schedule.admit(overlapKey: nil) == nil)
        schedule.answer(1, overlapKey: "b", with: "B")
        #expect(schedule.admit(overlapKey: nil) == nil)
        schedule.answer(0, overlapKey: "a", with: "A")
        #expect(schedule.admit(overlapKey: nil) == 2)
        // While it runs, nothing else starts, keyed or not.
        #expect(schedule.admit(overlapKey: "c") == nil)
        #expect(schedule.admit(overlapKey: nil) == nil)
        schedule.answer(2, overlapKey: nil, with: "list")
        #expect(schedule.admit(overlapKey: "c") == 3)
        schedule.answer(3, overlapKey: "c", with: "C")
        #expect(schedule.takeWritable() == ["A", "B", "list", "C"])
    }

    @Test func admissionStopsAtTheDepthUntilTheWriterTakesAnswers() {
        var schedule = PipelineSchedule<Int>(maximumDepth: 2)
        #expect(schedule.admit(overlapKey: "a") == 0)
        #expect(schedule.admit(overlapKey: "b") == 1)
        #expect(schedule.admit(overlapKey: "c") == nil)
        schedule.answer(0, overlapKey: "a", with: 0)
        schedule.answer(1, overlapKey: "b", with: 1)
        // Answered but not written still counts: unwritten answers are what the depth bounds.
        #expect(schedule.admit(overlapKey: "c") == nil)
        #expect(schedule.takeWritable() == [0, 1])
        #expect(schedule.admit(overlapKey: "c") == 2)
    }

    @Test func completeOnlyAfterFinishingAndTakingEveryAnswer() {
        var schedule = PipelineSchedule<Int>(maximumDepth: 4)
        #expect(schedule.admit(overlapKey: "a") == 0)
        schedule.finish()
        #expect(!schedule.isComplete)
        #expect(schedule.admit(overlapKey: "b") == nil)
        schedule.answer(0, overlapKey: "a", with: 7)
        #expect(!schedule.isComplete)
        #expect(schedule.takeWritable() == [7])
        #expect(schedule.isComplete)
    }
}
