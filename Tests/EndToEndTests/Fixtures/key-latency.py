#!/usr/bin/env python3
"""Key-to-screen latency of the dashboard under log load, measured in a real terminal (tmux).

Usage: swift build -c release --product cutover
       python3 Tests/EndToEndTests/Fixtures/key-latency.py .build/release/cutover demo 100000
       python3 Tests/EndToEndTests/Fixtures/key-latency.py .build/release/cutover watch 100000

`demo`: `cutover demo --rate N` (the simulator writes the logs inside the dashboard's process).
`watch`: a separate writer process appends N lines/s (as nginx would) and `cutover watch --read-only` reads them.
It toggles the help overlay 20 times with `?` and times each change until `tmux capture-pane` shows it (the
figure includes tmux's own delay; capture-pane alone is printed too). Kills its tmux server and temp dir.
"""
import re
import os, statistics, subprocess, sys, tempfile, threading, time

binary, mode, rate = sys.argv[1], sys.argv[2], int(sys.argv[3])
tmp = tempfile.mkdtemp(prefix="cutover-keylat-")
sock = "cutover-keylat-%d" % os.getpid()
env = ["env", "LANG=C.UTF-8", "XDG_STATE_HOME=" + tmp + "/state", "HOME=" + tmp]


def tmux(*args):
    return subprocess.run(["tmux", "-L", sock] + list(args), capture_output=True, text=True, timeout=10)


def start(argv):
    tmux("-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40", *env, binary, *argv)


stop = False
written = [0]


def writer(main, migration, stamp):
    """Appends `rate` lines/s in 50 ms slices, the templates' time replaced by the current second."""
    fm, fg = open(tmp + "/demo/main.log", "a"), open(tmp + "/demo/migration.log", "a")
    share = len(main) / (len(main) + len(migration))
    due, last = 0.0, time.monotonic()
    while not stop:
        now = time.monotonic()
        due += rate * (now - last)
        last = now
        n = int(due)
        due -= n
        if n > 0:
            second = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
            for lines, f, k in ((main, fm, int(n * share)), (migration, fg, n - int(n * share))):
                while k > 0:
                    part = lines[:min(k, len(lines))]
                    # Every line gets the current second, whatever time the template line had.
                    f.write(re.sub(r"\[[^]]*\]", "[" + second + "]", "\n".join(part) + "\n"))
                    k -= len(part)
                f.flush()
            written[0] += n
        time.sleep(0.05)


thread = None
try:
    if mode == "demo":
        start(["demo", "--dir", tmp + "/demo", "--rate", str(rate)])
    else:
        start(["demo", "--dir", tmp + "/demo", "--rate", "5000"])
        time.sleep(4)
        tmux("kill-server")
        main = open(tmp + "/demo/main.log").read().splitlines()[-8000:]
        migration = open(tmp + "/demo/migration.log").read().splitlines()[-6000:]
        stamp = main[-1].split("[")[1].split("]")[0]
        thread = threading.Thread(target=writer, args=(main, migration, stamp))
        thread.start()
        start(["watch", "--config", tmp + "/demo/cutover-demo.conf", "--read-only", "--window", "1m"])
    time.sleep(8)
    latencies = []
    for i in range(20):
        want = i % 2 == 0
        t0 = time.monotonic()
        tmux("send-keys", "?")
        while (" Keys " in tmux("capture-pane", "-p").stdout) != want and time.monotonic() - t0 < 5:
            pass
        latencies.append((time.monotonic() - t0) * 1000)
        time.sleep(0.2)
    pane = tmux("capture-pane", "-p").stdout.splitlines()
    print(pane[0].rstrip())
    print(pane[1].rstrip())
    t0 = time.monotonic()
    for _ in range(20):
        tmux("capture-pane", "-p")
    print("key to screen (ms): median %.1f, p90 %.1f, max %.1f; capture-pane alone %.1f"
          % (statistics.median(latencies), sorted(latencies)[17], max(latencies), (time.monotonic() - t0) * 50))
finally:
    stop = True
    if thread:
        thread.join()
    tmux("kill-server")
    subprocess.run(["rm", "-rf", tmp])
