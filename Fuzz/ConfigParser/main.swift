// libFuzzer target: the nginx config parser and printer (see Fuzz/README.md).
import Foundation
import FuzzDriver
import NginxConfig

/// One input: parse it as a config file; a parsed file must print back to exactly its bytes (the parser
/// is lossless), and a refused one must carry a line within the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigParser(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let text = String(validating: UnsafeBufferPointer(start: data, count: size), as: UTF8.self) else { return 0 }
    do {
        let file = try ConfigParser.parse(text, path: "/fuzz/nginx.conf")
        let printed = ConfigPrinter.print(file)
        precondition(printed == text, "the printer lost bytes: \(printed.utf8.count) printed of \(text.utf8.count)")
    } catch {
        let lines = text.utf8.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }  // bytes: "\r\n" is one Character
        precondition(error.line >= 0 && error.line <= lines + 1, "error line \(error.line) outside the input (\(lines) lines)")
    }
    return 0
}

fuzzMain(fuzzConfigParser)
