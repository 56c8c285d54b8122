import Testing
@testable import TerminalUI

@Suite struct DisplayWidthTests {
    @Test func asciiBoxAndBlocksAreNarrow() {
        for s in ["a", "Z", "~", "─", "│", "┌", "╯", "▁", "▄", "█", "…", "é"] {
            #expect(DisplayWidth.of(Character(s)) == 1, "\(s)")
        }
    }

    @Test func wideCharactersTakeTwoCells() {
        for s in ["中", "日", "ア", "한", "Ｗ", "😀", "🚀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️"] {
            #expect(DisplayWidth.of(Character(s)) == 2, "\(s)")
        }
        #expect(DisplayWidth.of("中文abc") == 7)
    }

    @Test func combiningAndZeroWidth() {
        #expect(DisplayWidth.of(Unicode.Scalar(0x301)!) == 0)  // combining acute
        #expect(DisplayWidth.of(Unicode.Scalar(0x200D)!) == 0)  // ZWJ
        #expect(DisplayWidth.of(Unicode.Scalar(0xFE0F)!) == 0)
        #expect(DisplayWidth.of(Character("e\u{301}")) == 1)
        #expect(DisplayWidth.of("e\u{301}\u{302}x") == 2)
    }

    @Test func controlCharactersHaveNoWidth() {
        #expect(DisplayWidth.of(Character("\t")) == nil)
        #expect(DisplayWidth.of(Character("\u{1B}")) == nil)
        #expect(DisplayWidth.of(Character("\u{7F}")) == nil)
        #expect(DisplayWidth.of(Character("\u{85}")) == nil)
    }

    @Test func truncationRespectsWidth() {
        #expect(DisplayWidth.truncate("hello world", toWidth: 8) == "hello w…")
        #expect(DisplayWidth.truncate("hello", toWidth: 5) == "hello")
        #expect(DisplayWidth.truncate("中文中文", toWidth: 5) == "中文…")
        #expect(DisplayWidth.truncate("中文中文", toWidth: 4) == "中…")
        #expect(DisplayWidth.truncate("abc", toWidth: 0) == "")
        #expect(DisplayWidth.truncate("abc", toWidth: 1) == "…")
    }
}
