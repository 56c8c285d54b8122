import Apply
import Foundation
import TestSupport
import Testing

@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("The quick brown fox jumps over the lazy dog",
         "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"),
    ])
    func knownVectors(input: String, expected: String) {
        #expect(SHA256.hex(input) == expected)
    }

    @Test func paddingBoundariesMatchSha256sum() throws {
        // Lengths around the 56- and 64-byte block boundaries, checked against coreutils.
        let dir = try TempDir()
        let runner = ProcessRunner()
        for length in [55, 56, 57, 63, 64, 65, 119, 120, 1000] {
            let text = String((0..<length).map { Character(UnicodeScalar(UInt8(97 + $0 % 26))) })
            let path = try dir.write("input-\(length)", text)
            let result = try runner.run(["sha256sum", path], timeout: .seconds(5))
            let expected = result.stdout.split(separator: " ").first.map(String.init)
            #expect(SHA256.hex(text) == expected, "length \(length)")
        }
    }
}
