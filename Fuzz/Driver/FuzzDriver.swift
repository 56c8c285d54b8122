import Foundation

/// A fuzz target's entry point: one input's bytes in, 0 out (libFuzzer's `LLVMFuzzerTestOneInput` signature).
public typealias FuzzTarget = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: FuzzTarget) -> CInt
#endif

/// Runs a fuzz target: under libFuzzer (built with `-sanitize=fuzzer -DFUZZING`) hands it the command line;
/// otherwise replays each file named on the command line, so a saved crash reproduces without the fuzzer.
public func fuzzMain(_ target: FuzzTarget) -> Never {
    #if FUZZING
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, target))
    #else
    for path in CommandLine.arguments.dropFirst() {
        let bytes = [UInt8](FileManager.default.contents(atPath: path) ?? Data())
        _ = bytes.withUnsafeBufferPointer { target($0.baseAddress, $0.count) }
    }
    exit(0)
    #endif
}
