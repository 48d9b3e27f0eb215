#!/usr/bin/env python3
# fault_injection: makes the server's own I/O fail (libfiu: open, write, short writes, fsync, close, rename,
# unlink at random) while messages arrive, and fills a small tmpfs mail root (ENOSPC). Checks that every
# message answered 250 is stored intact exactly once per recipient, that failures are answered 4xx and leave
# no visible copy, that no partial file is visible, and that the server never dies.

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import poharness as H  # noqa: E402

SCENARIOS = {
    "open": ["posix/io/oc/open"],
    "write": ["posix/io/rw/write", "posix/io/rw/write/reduce"],
    "fsync": ["posix/io/sync/fsync"],
    "close": ["posix/io/oc/close"],
    "rename": ["posix/io/dir/rename"],
    "unlink": ["posix/io/dir/unlink"],
    "mixed": ["posix/io/oc/open", "posix/io/rw/write", "posix/io/rw/write/reduce", "posix/io/sync/fsync",
              "posix/io/oc/close", "posix/io/dir/rename"],
    "everything": ["posix/io/oc/open", "posix/io/rw/write", "posix/io/rw/write/reduce", "posix/io/sync/fsync",
                   "posix/io/oc/close", "posix/io/dir/rename", "posix/io/dir/unlink"],
}


# How long a client waits for any one reply. Generous: a loaded 2-core CI machine running a debug build under
# libfiu's wrappers can be slow, and a stall this long is still a failure (the watchdog below bounds the whole).
CLIENT_TIMEOUT = 60


def send_batch(server, users, count, fanout, sessions, seed, size_choices=None):
    """Sends `count` messages over `sessions` connections. Returns {id: (code, recipients, reply text)}."""
    results = {}
    lock = threading.Lock()
    per_session = [count // sessions + (1 if i < count % sessions else 0) for i in range(sessions)]

    def worker(index, n):
        rng = random.Random(seed * 100 + index)
        client = None
        for _ in range(n):
            recipients = rng.sample(users, fanout)
            size = rng.choice(size_choices) if size_choices else None
            message_id, wire = H.make_message(rng, users[0], recipients, size_hint=size)
            try:
                if client is None:
                    client = H.SMTPClient(server.smtp_port, timeout=CLIENT_TIMEOUT)
                    client.command("EHLO fault.test")
                code, accepted, text = client.transaction(users[0], recipients, wire)
                if code and code != 250:
                    # Like a real MTA, defer and come back on a new session: refusals count as client
                    # errors towards the server's error limits (tarpit from 10, 421 at 20).
                    client.command("QUIT")
                    client.close()
                    client = None
            except (OSError, H.ProtocolError) as error:
                # Which command was waiting says where a session stalled ("timed out after DATA: ...").
                phase = getattr(client, "last_command", None) or "connect/greeting"
                code, accepted, text = -1, recipients, [f"{error} (waiting after {phase}, {time.strftime('%H:%M:%S')})"]
                if client:
                    client.close()
                client = None
            with lock:
                results[message_id] = (code, accepted or recipients, " ".join(text))
        if client:
            try:
                client.command("QUIT")
            except (OSError, H.ProtocolError):
                pass
            client.close()

    threads = [threading.Thread(target=worker, args=(i, n)) for i, n in enumerate(per_session)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def verify(server, users, results):
    counts, partial, orphans = {}, [], []
    for user in users:
        c, p, o = H.scan_maildir(server.maildir(user))
        counts[user] = c
        partial += p
        orphans += o
    acknowledged = {k: v for k, v in results.items() if v[0] == 250}
    bad_acknowledged = [(k, u, counts[u].get(k, 0)) for k, v in acknowledged.items() for u in v[1]
                        if counts[u].get(k, 0) != 1]
    refused = {k: v for k, v in results.items() if v[0] != 250}
    refused_but_visible = [(k, u, v[0]) for k, v in refused.items() for u in v[1] if counts[u].get(k, 0) > 0]
    codes = {}
    for code, _, _ in results.values():
        codes[str(code)] = codes.get(str(code), 0) + 1
    non_4xx = sorted({f"{v[0]} {v[2]}" for v in refused.values() if not (400 <= v[0] < 500)})
    return {
        "messages": len(results),
        "answered_250": len(acknowledged),
        "codes": codes,
        "acknowledged_not_intact_once": len(bad_acknowledged),
        "refused_but_visible": len(refused_but_visible),
        "refusals_not_4xx": non_4xx[:5],
        "partial_files": len(partial),
        "tmp_files_left": len(orphans),
        "examples": {"bad": bad_acknowledged[:3], "visible": refused_but_visible[:3], "partial": partial[:3]},
    }


def fiu_control(control, command, server, data):
    """Sends a command to the server's libfiu remote control; returns whether fiu-ctrl finished in time.
    libfiu's control thread is exempt from the faults (it raises its recursion count), but changing the
    failure points takes libfiu's write lock while the server's threads go through its wrappers, so the
    call can in principle wedge; never wait for it forever."""
    try:
        subprocess.run(["fiu-ctrl", "-f", control, "-c", command, str(server.process.pid)],
                       env=dict(os.environ, TMPDIR=data), timeout=15)
        return True
    except subprocess.TimeoutExpired:
        print(f"  !! fiu-ctrl gave no answer to '{command}' within 15 s")
        return False


def responsive(server, timeout=20):
    """Whether the server greets a new session and answers NOOP within `timeout` seconds."""
    try:
        client = H.SMTPClient(server.smtp_port, timeout=timeout)
        code, _ = client.command("NOOP")
        client.close()
        return code == 250
    except (OSError, H.ProtocolError):
        return False


def thread_report(pid, path):
    """Every thread's stack (gdb when installed, else the kernel's wait channels), saved to `path`; returns
    a one-line summary: which libfiu or lock frames the threads are parked in."""
    if shutil.which("gdb"):
        try:
            out = subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx", "-ex", "thread apply all bt 24"],
                                 capture_output=True, text=True, timeout=120).stdout
        except subprocess.TimeoutExpired:
            out = "gdb did not finish within 120 s"
    else:
        lines = []
        for task in sorted(os.listdir(f"/proc/{pid}/task")) if os.path.isdir(f"/proc/{pid}/task") else []:
            try:
                with open(f"/proc/{pid}/task/{task}/wchan") as f:
                    lines.append(f"{task} {f.read()}")
            except OSError:
                pass
        out = "\n".join(lines)
    with open(path, "w") as f:
        f.write(out)
    frames = {}
    for name in ("fiu_enable", "fiu_disable", "fiu_fail", "rc_fifo_thread", "_dl_sym", "dlsym",
                 "pthread_rwlock_rdlock", "pthread_rwlock_wrlock", "__lll_lock_wait"):
        count = out.count(f" {name} ") + out.count(f" {name}(")
        if count:
            frames[name] = count
    if libfiu_loader_deadlock(out):
        frames["libfiu_loader_deadlock"] = True
    return frames


def libfiu_loader_deadlock(stacks):
    """Whether gdb's stacks show libfiu deadlocked against the dynamic loader (not the server's doing): one
    thread inside dlopen holds the loader's lock and waits in a wrapped malloc for libfiu's rwlock, while a
    thread of libfiu's wrappers, which looks up the real function lazily with dlsym, waits for the loader's
    lock (with libfiu's lock held when it came from fiu_fail's cache update). Seen at start-up, before any
    fault was enabled: the main thread still loading a library while the other threads make their first
    wrapped calls."""
    threads = [t for t in re.split(r"\n(?=Thread \d+ )", stacks) if t.startswith("Thread ")]
    in_loader_waiting_for_fiu = any(
        "fiu_fail" in t and "rwlock" in t and re.search(r"\b(_dl_open|dl_open_worker|_dl_map_object|_dl_catch_exception)", t)
        for t in threads)
    wrapper_waiting_for_loader = any("dlsym" in t and "fiu_posix_preload" in t for t in threads)
    return in_loader_waiting_for_fiu and wrapper_waiting_for_loader


class Watchdog:
    """Bounds one scenario: past its deadline it says so loudly, saves the server's thread stacks and kills
    the server, so the clients' sessions end at once and the scenario reports instead of hanging."""

    def __init__(self, name, seconds, server, data):
        self.name, self.seconds, self.server, self.data = name, seconds, server, data
        self.fired = None
        self.timer = threading.Timer(seconds, self.fire)
        self.timer.daemon = True

    def start(self):
        self.timer.start()
        return self

    def fire(self, reason=None):
        if self.fired is not None:
            return
        self.fired = reason or f"did not finish within {self.seconds} s"
        print(f"  !! {self.name}: {self.fired}; saving the server's threads and killing it", flush=True)
        if self.server.alive():
            path = os.path.join(self.data, "threads.txt")
            self.fired += f"; threads {thread_report(self.server.process.pid, path)} (see {path})"
            print(f"  !! {self.name}: {self.fired}", flush=True)
        self.server.kill()

    def cancel(self):
        self.timer.cancel()


def fiu_scenario(name, args):
    """One scenario; run again from scratch (twice at most) when its server wedged in libfiu's known
    deadlock with the dynamic loader (see libfiu_loader_deadlock) and the wedged attempt stored nothing
    wrongly: the deadlock is the fault injector's, and the attempt proved nothing either way. A wedge
    without that signature, or one with lost or partial messages, fails as it is."""
    retried = []
    for attempt in range(3):
        report = fiu_attempt(name, args)
        tool_deadlock = "libfiu_loader_deadlock" in (report.get("watchdog") or "")
        clean = not (report["acknowledged_not_intact_once"] or report["partial_files"])
        if not (tool_deadlock and clean) or attempt == 2:
            break
        print(f"  {name}: libfiu deadlocked against the dynamic loader (attempt {attempt + 1}); running it again")
        retried.append(report["watchdog"])
    report["retried_after_libfiu_deadlock"] = retried
    return report


def fiu_attempt(name, args):
    data = H.temporary_directory(f"po-fiu-{name}-")
    users = H.user_names(8)
    server = H.Server(args.binary, data, users, wrapper=["fiu-run", "-x"],
                      env=dict(os.environ, TMPDIR=data))
    server.start(timeout=30)
    control = os.path.join(data, "fiu-ctrl")
    watchdog = Watchdog(name, args.scenario_timeout, server, data).start()
    stalled = []
    for point in SCENARIOS[name]:
        if not fiu_control(control, f"enable_random name={point},probability={args.probability}", server, data):
            stalled.append(f"enable {point}")
    # A control call without an answer: carry on only if the server still serves (the command may just
    # have lost its reply); a wedged server is reported now, not after every client has timed out.
    if stalled and not responsive(server):
        watchdog.fire(f"server stopped answering after fiu-ctrl stalled on {stalled}")
    results = send_batch(server, users, args.messages, args.fanout, args.sessions, args.seed) \
        if watchdog.fired is None else {}
    alive = server.alive()
    if alive:
        for point in SCENARIOS[name]:
            if not fiu_control(control, f"disable name={point}", server, data):
                stalled.append(f"disable {point}")
    # After the faults stop the server must serve normally again.
    after = send_batch(server, users, 5, 1, 1, args.seed + 1) if alive and watchdog.fired is None else {}
    watchdog.cancel()
    recovered = bool(after) and all(v[0] == 250 for v in after.values())
    results.update(after)
    report = verify(server, users, results)
    timeouts = sorted(v[2] for v in results.values() if v[0] == -1 and "timed out" in v[2])
    report.update({"scenario": name, "points": SCENARIOS[name], "probability": args.probability,
                   "server_alive": alive and server.alive(), "serves_after_faults": recovered,
                   "client_timeouts": timeouts[:5], "fiu_ctrl_stalled": stalled, "watchdog": watchdog.fired})
    server.stop()
    if watchdog.fired or timeouts or stalled:
        print(f"  kept {data} (server.log{', threads.txt' if watchdog.fired else ''})")
    elif not args.keep:
        H.remove_tree(data)
    return report


def enospc_scenario(args):
    data = H.temporary_directory("po-enospc-")
    users = H.user_names(4)
    mail = os.path.join(data, "mail")
    os.makedirs(mail)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={args.tmpfs_size}", "tmpfs", mail],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        return {"scenario": "enospc", "skipped": f"mount tmpfs failed: {mounted.stderr.strip()} (needs root)"}
    try:
        server = H.Server(args.binary, data, users)
        server.start()
        # Enough 100-200 KB messages to overflow the file system several times over.
        results = send_batch(server, users, args.enospc_messages, 2, 2, args.seed, size_choices=[100_000, 200_000])
        alive = server.alive()
        full = {k: v for k, v in results.items() if v[0] != 250}
        codes_ok = all(v[0] in (451, 452) for v in full.values())
        enhanced = sorted({v[2].split(" ")[0] for v in full.values()})
        report = verify(server, users, results)
        # Free space: delete every stored message, then delivery must work again.
        for user in users:
            for sub in ("new", "cur"):
                directory = os.path.join(server.maildir(user), sub)
                for n in os.listdir(directory) if os.path.isdir(directory) else []:
                    os.unlink(os.path.join(directory, n))
        after = send_batch(server, users, 5, 1, 1, args.seed + 3, size_choices=[1000])
        report.update({
            "scenario": "enospc", "tmpfs": args.tmpfs_size, "server_alive": alive and server.alive(),
            "refusals_are_451_or_452": codes_ok, "enhanced_codes": enhanced,
            "serves_after_space_freed": all(v[0] == 250 for v in after.values()),
        })
        server.stop()
        return report
    finally:
        subprocess.run(["umount", "-l", mail])
        if not args.keep:
            H.remove_tree(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", default=H.DEFAULT_BINARY)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--fanout", type=int, default=3)
    parser.add_argument("--probability", type=float, default=0.05)
    parser.add_argument("--scenario", choices=list(SCENARIOS) + ["enospc", "all"], default="all")
    parser.add_argument("--tmpfs-size", default="2m")
    parser.add_argument("--enospc-messages", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="100 messages per scenario (CI)")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--scenario-timeout", type=float, default=None,
                        help="seconds before a fault scenario is failed and its server killed (default: 300, "
                             "1200 for the full 300-message run)")
    args = parser.parse_args()
    if args.quick:
        args.messages = min(args.messages, 100)
    if args.scenario_timeout is None:
        args.scenario_timeout = 300 if args.messages <= 100 else 1200
    H.require_binary(args.binary)
    print(f"seed {args.seed}")
    names = list(SCENARIOS) + ["enospc"] if args.scenario == "all" else [args.scenario]
    if args.quick and args.scenario == "all":
        # libfiu's remote control answers through FIFOs it opens and closes inside the server, so injected
        # open/close faults can swallow its reply and stall fiu-ctrl (seen once in ~20 runs). CI keeps to the
        # scenarios that cannot; the full run has them all, with fiu-ctrl's wait bounded. The rename scenario
        # is left out too: once (in ~25 CI runs) enabling it at run time deadlocked libfiu itself — its control
        # thread held libfiu's write lock while its wrapped malloc waited in dlsym for the loader's lock, and
        # the server's threads were parked in the wrapped malloc on libfiu's rwlock (gdb backtraces).
        # The same lock-order inversion between libfiu and the loader also strikes at start-up in any
        # scenario (1 in ~20 quick 'write' runs, 2026-12-06: the main thread in dlopen, a libdispatch thread
        # in fiu_fail's cache update resolving strdup with dlsym); fiu_scenario recognises it from the stacks
        # and runs the scenario again rather than leaving it out.
        names = [n for n in names if n == "enospc" or not any(
            p.startswith("posix/io/oc/") or p == "posix/io/dir/rename" for p in SCENARIOS[n])]
    failed = False
    for name in names:
        if name != "enospc" and not shutil.which("fiu-run"):
            print(f"{name}: skipped (fiu-run not installed: apt-get install -y fiu-utils)")
            continue
        report = enospc_scenario(args) if name == "enospc" else fiu_scenario(name, args)
        print(json.dumps(report))
        if "skipped" in report:
            continue
        bad = (report["acknowledged_not_intact_once"] or report["partial_files"] or not report["server_alive"]
               or report.get("watchdog")
               or report["refusals_not_4xx"]
               # A refused message may stay visible only when its rollback's unlink was made to fail.
               or (report["refused_but_visible"] and "posix/io/dir/unlink" not in report.get("points", []))
               or not report.get("serves_after_faults", report.get("serves_after_space_freed", True))
               or (name == "enospc" and not report["refusals_are_451_or_452"]))
        print(f"{name}: {'FAIL' if bad else 'ok'}")
        sys.stdout.flush()
        failed = failed or bool(bad)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
