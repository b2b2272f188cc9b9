#if FUZZING
import Foundation

/// libFuzzer's entry point; the target is chosen with PAYNODE_FUZZ_TARGET (scripts/fuzz.sh).
private let selectedTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["PAYNODE_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        fatalError("set PAYNODE_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue))")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    selectedTarget.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : count))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// SwiftPM links an executable's entry point as `<module>_main`, so libFuzzer's own `main` is
/// not the one that runs: start its driver from ours.
@_cdecl("PaynodeFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return runFuzzerDriver(&argc, &argv, fuzzOneInput)
}
#else
import Foundation

/// Without the fuzzer: replays corpus files (seeds and every crash ever found) through their
/// targets, so `make test` keeps each past crash fixed. Usage: paynode-fuzz DIR (DIR/<target>/*).
@main
struct ReplayCorpus {
    static func main() throws {
        let root = CommandLine.arguments.dropFirst().first ?? "Tests/fuzz/corpus"
        var replayed = 0
        for target in FuzzTarget.allCases {
            let folder = URL(fileURLWithPath: root).appendingPathComponent(target.rawValue)
            let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            for file in files.sorted() {
                let data = try Data(contentsOf: folder.appendingPathComponent(file))
                data.withUnsafeBytes { target.run($0) }
                replayed += 1
            }
        }
        print("replayed \(replayed) corpus inputs through \(FuzzTarget.allCases.count) targets")
        guard replayed > 0 else { throw ReplayError.emptyCorpus(root) }
    }

    enum ReplayError: Error { case emptyCorpus(String) }
}
#endif
