import Foundation
import PaynodeTestSupport
import Protocol
import Testing
@testable import LogStore

/// Kills a real writer process with SIGKILL at random moments and checks, after every restart,
/// that each acknowledged write is present exactly once, offsets are dense, and the
/// application table and committed offsets agree with the log.
@Suite("Crash safety")
struct CrashTests {
    static let topic = "crash"
    static let partitions: Int32 = 3

    @Test func sigkillLosesNothingAcknowledgedAndDuplicatesNothing() async throws {
        let directory = TemporaryDirectory("crash"); defer { directory.cleanup() }
        var generator = SystemRandomNumberGenerator()
        var acknowledged = Set<UInt64>()
        let kills = 24
        for round in 0..<kills {
            let child = try ChildProcess.crashTest(["append", directory.path])
            try child.waitForLine("READY", timeout: .seconds(60))
            // Let it write for a random while, reading its acknowledgements meanwhile.
            let deadline = ContinuousClock.now + .milliseconds(Int.random(in: 20...400, using: &generator))
            while ContinuousClock.now < deadline { child.readAvailable(waitMilliseconds: 10) }
            child.kill()
            let acks = child.lines.compactMap { line -> UInt64? in
                line.hasPrefix("ACK ") ? UInt64(line.dropFirst(4)) : nil
            }
            acknowledged.formUnion(acks)
            try verify(directory: directory.path, acknowledged: acknowledged, round: round)
        }
        #expect(acknowledged.count > kills, "the child acknowledged too little to test anything")
    }

    private func verify(directory: String, acknowledged: Set<UInt64>, round: Int) throws {
        let store = try openStore(directory)
        defer { store.close() }
        // write number -> (partition, base offset, record count), from the application table.
        var table: [UInt64: (partition: Int32, offset: Int64, count: Int)] = [:]
        try store.read { transaction in
            guard let acks = transaction.table("acks") else { return }
            for (key, value) in try acks.scan() {
                let number: UInt64 = bigEndian(key[...])
                let partition = Int32(bitPattern: bigEndian(value[0..<4]))
                let offset = Int64(bitPattern: bigEndian(value[4..<12]))
                let count = Int(bigEndian(value[12..<16]) as UInt32)
                table[number] = (partition, offset, count)
            }
        }
        for number in acknowledged {
            #expect(table[number] != nil, "round \(round): acknowledged write \(number) is missing from the table")
        }
        var seenNumbers: [UInt64: Int] = [:]
        let description = try #require(try store.describe(topic: Self.topic))
        for partition in 0..<Self.partitions {
            let records = try allRecords(store, Self.topic, partition)
            // Dense offsets from 0 to the high watermark.
            #expect(records.map(\.offset) == (0..<Int64(records.count)).map { $0 }, "round \(round): offsets of partition \(partition) are not dense")
            #expect(Int64(records.count) == description.partitions[Int(partition)].highWatermark)
            var index = 0
            while index < records.count {
                let key = try #require(records[index].keyString)
                let number = try #require(UInt64(key.dropFirst()))
                let entry = try #require(table[number], "round \(round): log holds write \(number) that the table does not")
                #expect(entry.partition == partition && entry.offset == records[index].offset,
                        "round \(round): table and log disagree on write \(number)")
                // The write's records are contiguous and complete.
                guard index + entry.count <= records.count else {
                    Issue.record("round \(round): write \(number) is cut short in the log")
                    break
                }
                for part in 0..<entry.count {
                    #expect(records[index + part].keyString == key)
                    #expect(records[index + part].valueString == "v\(number)-\(part)")
                }
                seenNumbers[number, default: 0] += 1
                index += entry.count
            }
            // The group offset was committed with the append, so it equals the high watermark.
            let committed = try store.committedOffset(group: "crash-group", topic: Self.topic, partition: partition)
            #expect((committed?.offset ?? 0) == Int64(records.count), "round \(round): committed offset of partition \(partition) disagrees with the log")
        }
        #expect(seenNumbers.values.allSatisfy { $0 == 1 }, "round \(round): a write appears twice in the log")
        #expect(Set(seenNumbers.keys) == Set(table.keys), "round \(round): table and log hold different writes")
    }
}

private func bigEndian<T: FixedWidthInteger>(_ bytes: ArraySlice<UInt8>) -> T {
    bytes.reduce(T(0)) { $0 << 8 | T($1) }
}
