// FuzzEntry: the one entry point every fuzz target's `@main` calls. Built normally it replays inputs from
// files and directories (regression runs of saved crashes and the seed corpus); built by `.ci/fuzz.sh`
// with `-sanitize=fuzzer,address -D POSTOFFICE_FUZZ` it hands control to libFuzzer's driver instead.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if POSTOFFICE_FUZZ
/// libFuzzer's driver (compiler-rt `FuzzerDriver.cpp`): parses the usual libFuzzer flags from argv and runs
/// the callback on each generated input. Declared here because SwiftPM links executables with `main`
/// aliased to the module's `@main`, so libFuzzer's own `main` cannot be used.
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif

/// Runs a fuzz harness: under libFuzzer in a fuzz build, over the argument files otherwise.
public enum FuzzEntry {
    /// The harness of this process. A C callback cannot capture context, so it is parked here once, before
    /// the driver starts, and only read afterwards.
    nonisolated(unsafe) private static var harness: ([UInt8]) -> Void = { _ in }

    /// Never returns. `harness` must trap (precondition) on any broken invariant so the fuzzer records it.
    public static func run(name: String, harness: @escaping ([UInt8]) -> Void) -> Never {
        Self.harness = harness
        #if POSTOFFICE_FUZZ
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        let status = runFuzzerDriver(&argc, &argv) { data, size in
            let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
            FuzzEntry.harness(bytes)
            return 0
        }
        exit(status)
        #else
        exit(replay(name: name, paths: Array(CommandLine.arguments.dropFirst())))
        #endif
    }

    /// Feeds every file named (directories: every regular file inside, sorted, not recursive) to the harness.
    /// A broken invariant traps; otherwise prints a count and returns 0 (1 when a path cannot be read).
    static func replay(name: String, paths: [String]) -> Int32 {
        guard !paths.isEmpty else {
            print("usage: \(name) FILE-OR-DIRECTORY...  (replays inputs through the \(name) harness)")
            return 2
        }
        var count = 0
        var failed = false
        for path in paths {
            guard let files = FileReader.files(at: path) else {
                print("\(name): cannot read \(path)")
                failed = true
                continue
            }
            for file in files {
                guard let bytes = FileReader.contents(of: file) else {
                    print("\(name): cannot read \(file)")
                    failed = true
                    continue
                }
                // Named first, so a trap's report follows the name of the input that caused it.
                let note = Array("\(name): \(file)\n".utf8)
                _ = note.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
                harness(bytes)
                count += 1
            }
        }
        print("\(name): replayed \(count) inputs, all invariants held")
        return failed ? 1 : 0
    }
}
