// libFuzzer target: the cutover.yaml reader.
import Foundation
import FuzzDriver
import Settings

/// One input: read it as settings; a refusal must name a line within the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSettings(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let text = String(validating: UnsafeBufferPointer(start: data, count: size), as: UTF8.self) else { return 0 }
    do {
        _ = try Settings.parse(text, file: "/fuzz/cutover.yaml")
    } catch {
        let lines = text.utf8.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }  // bytes: "\r\n" is one Character
        precondition(error.line >= 0 && error.line <= lines + 1, "error line \(error.line) outside the input (\(lines) lines)")
    }
    return 0
}

fuzzMain(fuzzSettings)
