#ifndef CUTOVER_CNCURSESW_SHIM_H
#define CUTOVER_CNCURSESW_SHIM_H
#define NCURSES_WIDECHAR 1
#define _XOPEN_SOURCE_EXTENDED 1
#include <locale.h>
#include <langinfo.h>
#include <stdio.h>
#include <ncursesw/curses.h>

/* Wrappers for what Swift cannot import from curses.h: function-like macros, bit-building attribute
   macros, and mutable globals (stdscr, COLORS, stdout) that Swift 6 flags as shared mutable state. */

static inline WINDOW *cutover_stdscr(void) { return stdscr; }
static inline int cutover_colors(void) { return COLORS; }
static inline int cutover_color_pairs(void) { return COLOR_PAIRS; }

/* newterm on the process's stdout/stdin: unlike initscr it returns NULL instead of exiting on failure. */
static inline SCREEN *cutover_newterm(void) { return newterm(NULL, stdout, stdin); }

static inline void cutover_getmaxyx(WINDOW *win, int *rows, int *cols) {
    int y = 0, x = 0;
    getmaxyx(win, y, x);
    *rows = y;
    *cols = x;
}

static inline attr_t cutover_a_normal(void) { return A_NORMAL; }
static inline attr_t cutover_a_bold(void) { return A_BOLD; }
static inline attr_t cutover_a_dim(void) { return A_DIM; }
static inline attr_t cutover_a_underline(void) { return A_UNDERLINE; }
static inline attr_t cutover_a_reverse(void) { return A_REVERSE; }
static inline int cutover_color_pair(int n) { return (int)COLOR_PAIR(n); }
static inline int cutover_key_f(int n) { return KEY_F(n); }

/* Mouse: clicks and the wheel, reported at once (no click-interval wait). */
static inline void cutover_mouse_start(void) {
    mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
    mouseinterval(0);
}
static inline int cutover_key_mouse(void) { return KEY_MOUSE; }
/* Reads the pending mouse event: 1 left press or click, 4 wheel up, 5 wheel down, 0 anything else, -1 none. */
static inline int cutover_read_mouse(int *x, int *y) {
    MEVENT event;
    if (getmouse(&event) != OK) return -1;
    *x = event.x;
    *y = event.y;
    if (event.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED)) return 1;
    if (event.bstate & BUTTON4_PRESSED) return 4;
    if (event.bstate & BUTTON5_PRESSED) return 5;
    return 0;
}

/* The character set of the current locale (e.g. "UTF-8"); call after setlocale. */
static inline const char *cutover_codeset(void) { return nl_langinfo(CODESET); }

#endif
