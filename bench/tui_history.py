"""History at scale: the CPU an idle TUI uses on a store of many runs, and the
time from launch to its first frame (both in tmux, the TUI's worker off).

One run is queued with `atelier queue add`; its row is copied (new ids, a mix
of statuses and photo names) until the store holds --runs runs. The TUI then
sits on the History pane for --seconds; its CPU time is read from /proc.

usage: .venv/bin/python bench/tui_history.py [--runs 20000] [--seconds 20] [--filter TEXT] [--bin PATH]
Figures depend on the machine; they are not test assertions.
"""

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fill(atelier, data, runs, env):
    subprocess.run(
        [atelier, "queue", "add", "--data-dir", data, "chelsea", "irises"],
        check=True, capture_output=True, env=env,
    )
    db = sqlite3.connect(os.path.join(data, "atelier.db"))
    cols = [r[1] for r in db.execute("PRAGMA table_info(runs)") if r[1] != "id"]
    names = ["chelsea", "coffee", "astronaut", "rocket"]
    statuses = ["done", "failed", "cancelled", "done"]
    row = db.execute(f"SELECT {', '.join(cols)} FROM runs").fetchone()
    base = dict(zip(cols, row))
    out = []
    for i in range(runs - 1):
        r = dict(base)
        r["status"] = statuses[i % 4]
        r["inputs"] = base["inputs"].replace("chelsea", names[i % 4])
        r["created"] = base["created"] - (runs - i)
        out.append(tuple(r[c] for c in cols))
    db.executemany(
        f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", out
    )
    db.commit()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tui_pid(data):
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                cmd = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if data.encode() in cmd and b"--config" in cmd:
                return int(p)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--filter", help="typed into History's filter before measuring")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/atelier"))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="atelier-tuibench-")
    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(tmp, "cfg"),
               XDG_CACHE_HOME=os.path.join(tmp, "cache"))
    data = os.path.join(tmp, "data")
    cfg = os.path.join(tmp, "atelier.toml")
    with open(cfg, "w") as f:
        f.write('[tui]\nstart_worker = false\nbrowse_preview = "off"\n')
    fill(a.bin, data, a.runs, env)
    session = f"tuibench{os.getpid()}"
    start = time.time()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "36",
                    f"{a.bin} --config {cfg} --data-dir {data}"], check=True, env=env)
    while b"1 Library" not in subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", session], capture_output=True).stdout:
        time.sleep(0.01)
    first = time.time() - start
    subprocess.run(["tmux", "send-keys", "-t", session, "5"])
    if a.filter:
        subprocess.run(["tmux", "send-keys", "-t", session, "/", a.filter, "Enter"])
    time.sleep(2)
    pid = tui_pid(data)
    if pid is None:
        sys.exit("the TUI is not running")
    c0, t0 = cpu_seconds(pid), time.time()
    time.sleep(a.seconds)
    c1, t1 = cpu_seconds(pid), time.time()
    screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                            capture_output=True, text=True).stdout
    subprocess.run(["tmux", "send-keys", "-t", session, "q"])
    time.sleep(1)
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    title = next((l for l in screen.splitlines() if "History (" in l), "").strip()
    print(f"{a.runs} runs · first frame {first:.2f} s · idle CPU on History "
          f"{100 * (c1 - c0) / (t1 - t0):.1f} % of a core · {title[:60]}")


if __name__ == "__main__":
    main()
