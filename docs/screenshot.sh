#!/usr/bin/env bash
# Captures the demo at 120x40 in a private tmux server and renders docs/dashboard.png from it.
# Usage: docs/screenshot.sh [path/to/cutover]   (default: .build/debug/cutover; needs tmux and python3-pil)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/debug/cutover}
work=$(mktemp -d)
socket=cutover-shot-$$
trap 'tmux -L "$socket" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
tmux -L "$socket" -f /dev/null new-session -d -x 120 -y 40 \
    env HOME="$work" XDG_STATE_HOME="$work/state" LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color \
    "$bin" demo --dir "$work/demo"
# Let a minute of simulated traffic build up, ramp one endpoint so the charts show a change, select the worst (first) row.
sleep 20
tmux -L "$socket" send-keys j j +
sleep 1
tmux -L "$socket" send-keys y
sleep 40
tmux -L "$socket" send-keys g
sleep 2
tmux -L "$socket" capture-pane -e -p > "$work/capture.txt"
/usr/bin/env python3 -c 'import PIL' 2>/dev/null && py=python3 || py=/usr/bin/python3
"$py" docs/render-screenshot.py "$work/capture.txt" docs/dashboard.png --columns 120 --rows 40
echo "wrote docs/dashboard.png ($(stat -c %s docs/dashboard.png) bytes)"
