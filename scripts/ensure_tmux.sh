#!/usr/bin/env bash
# The TUI's end-to-end test drives atelier in tmux. Install it when missing and
# we may (root, as in CI); otherwise the test says it skipped.
command -v tmux >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing tmux for the TUI end-to-end test"
  (apt-get update -qq && apt-get install -y -qq tmux >/dev/null) || echo "warning: could not install tmux; the tmux test will be skipped" >&2
else
  echo "note: tmux not found; the TUI end-to-end test will be skipped" >&2
fi
exit 0
