#!/usr/bin/env python3
"""Renders a terminal capture with colours (`tmux capture-pane -e -p`) to a PNG.

Usage: render-screenshot.py CAPTURE.txt OUT.png [--columns N --rows N]

Reads the SGR escape sequences tmux writes (bold, dim, reverse, underline, the 16 colours, the 256-colour
palette and RGB), draws each cell with DejaVu Sans Mono on a dark background, and saves a palette PNG
(small enough to commit). Needs Pillow (Debian: python3-pil).
"""
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
SIZE = 14
BACKGROUND = (24, 24, 28)
FOREGROUND = (220, 220, 220)
ANSI = [(0, 0, 0), (205, 49, 49), (13, 188, 121), (229, 229, 16), (36, 114, 200), (188, 63, 188), (17, 168, 205),
        (229, 229, 229), (128, 128, 128), (241, 76, 76), (35, 209, 139), (245, 245, 67), (59, 142, 234),
        (214, 112, 214), (41, 184, 219), (255, 255, 255)]


BOX = {"─": "lr", "│": "ud", "┌": "rd", "┐": "ld", "└": "ru", "┘": "lu", "╭": "rd", "╮": "ld", "╰": "ru", "╯": "lu",
       "├": "udr", "┤": "udl", "┬": "lrd", "┴": "lru", "┼": "lrud"}


def palette(n):
    if n < 16:
        return ANSI[n]
    if n < 232:
        n -= 16
        levels = [0, 95, 135, 175, 215, 255]
        return (levels[n // 36], levels[(n // 6) % 6], levels[n % 6])
    grey = 8 + (n - 232) * 10
    return (grey, grey, grey)


def parse(text):
    """Yields rows of cells (char, fg, bg, bold, dim, underline, reverse)."""
    rows = []
    state = dict(fg=None, bg=None, bold=False, dim=False, underline=False, reverse=False)
    for line in text.split("\n"):
        row = []
        i = 0
        while i < len(line):
            m = re.match(r"\x1b\[([0-9;:]*)m", line[i:])
            if m:
                codes = [int(c) if c else 0 for c in re.split("[;:]", m.group(1))] if m.group(1) else [0]
                j = 0
                while j < len(codes):
                    c = codes[j]
                    if c == 0:
                        state = dict(fg=None, bg=None, bold=False, dim=False, underline=False, reverse=False)
                    elif c == 1: state["bold"] = True
                    elif c == 2: state["dim"] = True
                    elif c == 4: state["underline"] = True
                    elif c == 7: state["reverse"] = True
                    elif c == 22: state["bold"] = state["dim"] = False
                    elif c == 24: state["underline"] = False
                    elif c == 27: state["reverse"] = False
                    elif 30 <= c <= 37: state["fg"] = ANSI[c - 30]
                    elif c == 39: state["fg"] = None
                    elif 40 <= c <= 47: state["bg"] = ANSI[c - 40]
                    elif c == 49: state["bg"] = None
                    elif 90 <= c <= 97: state["fg"] = ANSI[c - 90 + 8]
                    elif 100 <= c <= 107: state["bg"] = ANSI[c - 100 + 8]
                    elif c in (38, 48) and j + 1 < len(codes):
                        key = "fg" if c == 38 else "bg"
                        if codes[j + 1] == 5 and j + 2 < len(codes):
                            state[key] = palette(codes[j + 2]); j += 2
                        elif codes[j + 1] == 2 and j + 4 < len(codes):
                            state[key] = tuple(codes[j + 2:j + 5]); j += 4
                    j += 1
                i += len(m.group(0))
                continue
            if line[i] == "\x1b":  # another escape (charset, OSC): skip it
                m = re.match(r"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x07]*\x07|.)", line[i:])
                i += len(m.group(0)) if m else 1
                continue
            row.append((line[i], dict(state)))
            i += 1
        rows.append(row)
    return rows


def render(rows, columns, height, out):
    font = ImageFont.truetype(FONT, SIZE)
    bold = ImageFont.truetype(BOLD, SIZE)
    left, top, right, bottom = font.getbbox("M")
    cw = int(round(font.getlength("M")))
    ch = int(SIZE * 1.25)
    image = Image.new("RGB", (columns * cw, height * ch), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for y, row in enumerate(rows[:height]):
        for x, (char, s) in enumerate(row[:columns]):
            fg, bg = s["fg"] or FOREGROUND, s["bg"] or BACKGROUND
            if s["reverse"]:
                fg, bg = bg, fg
            if s["dim"]:
                fg = tuple(int(c * 0.6 + b * 0.4) for c, b in zip(fg, bg))
            box = (x * cw, y * ch, (x + 1) * cw, (y + 1) * ch)
            if bg != BACKGROUND:
                draw.rectangle(box, fill=bg)
            if char in "█▉▊▋▌▍▎▏":
                eighths = 8 - "█▉▊▋▌▍▎▏".index(char)
                draw.rectangle((box[0], box[1], box[0] + cw * eighths // 8 - 1, box[3] - 1), fill=fg)
            elif char in "▁▂▃▄▅▆▇":
                eighths = "▁▂▃▄▅▆▇".index(char) + 1
                draw.rectangle((box[0], box[3] - ch * eighths // 8, box[2] - 1, box[3] - 1), fill=fg)
            elif char in BOX:
                # Box drawing: lines from the cell's centre to the sides the character joins.
                mx, my = box[0] + cw // 2, box[1] + ch // 2
                for side in BOX[char]:
                    end = {"l": (box[0], my), "r": (box[2], my), "u": (mx, box[1]), "d": (mx, box[3])}[side]
                    draw.line(((mx, my), end), fill=fg)
            elif 0x2800 < ord(char) <= 0x28FF:
                # Braille: the font has none, so draw the dots (two columns, four rows).
                bits = ord(char) - 0x2800
                for bit, (col, row) in enumerate([(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3)]):
                    if bits & (1 << bit):
                        cx, cy = box[0] + cw * (0.28 + 0.44 * col), box[1] + ch * (0.14 + 0.24 * row)
                        draw.ellipse((cx - 1.3, cy - 1.3, cx + 1.3, cy + 1.3), fill=fg)
            elif char != " ":
                draw.text((box[0], box[1] + (ch - SIZE) // 2 - top // 2), char, font=bold if s["bold"] else font, fill=fg)
            if s["underline"]:
                draw.line((box[0], box[3] - 2, box[2], box[3] - 2), fill=fg)
    # A palette image keeps the file small; the fast octree keeps rare colours such as thin grey borders.
    image.quantize(colors=128, method=Image.Quantize.FASTOCTREE).save(out, optimize=True)


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 64
    columns, rows = 120, 40
    if "--columns" in argv: columns = int(argv[argv.index("--columns") + 1])
    if "--rows" in argv: rows = int(argv[argv.index("--rows") + 1])
    with open(argv[1], encoding="utf-8") as f:
        text = f.read()
    render(parse(text), columns, rows, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
