import Foundation
import NginxConfig
import TestSupport
import Testing
@testable import Apply

@Suite struct ConfigBytesTests {
    @Test func aLatin1ConfigIsReadAndWrittenByteForByte() throws {
        // A Latin-1 config (accepted by nginx) was refused as "not UTF-8 text".
        let dir = try TempDir()
        let path = dir.file("latin1.conf")
        let bytes = Array("# r".utf8) + [0xE9] + Array("sum".utf8) + [0xE9] + Array("\nmap $uri $x {\n    /caf".utf8) + [0xE9] + Array(" 1;\n}\n".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let text = try AtomicFiles.readText(path)
        let edited = text + "# added\n"
        let temp = try AtomicFiles.writeTemp(beside: path, text: edited)
        defer { unlink(temp) }
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: temp)))
        #expect(written == bytes + Array("# added\n".utf8))
    }
}
