#!/usr/bin/env python3
# gluster_pair: two `postoffice` servers (own data folders, queues and pid files) share one mail root on a
# GlusterFS volume, each through its own FUSE mount, as two MX hosts would. SMTP load and POP3 (RETR + DELE)
# run on both; both servers are SIGKILLed and restarted at random moments and one brick process is killed and
# restarted mid-run. Checks: every acknowledged message is stored exactly once and intact (or was deleted by a
# committed POP3 session), no POP3 session of one user ever provably overlapped another (the IN-USE lock held
# across instances), no message was handed to two overlapping sessions, no confirmed deletion came back, and
# both mounts see the same Maildirs. `.ci/reliability/gluster.sh` sets up the volume and runs this.

import argparse
import errno
import itertools
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


class SharedRootServer(H.Server):
    """A server whose `mail_root` is set in its configuration file (a folder on a shared mount)."""

    def __init__(self, binary, data, users, mail_root, name, env=None):
        os.makedirs(data, exist_ok=True)
        with open(os.path.join(data, "postoffice.conf"), "w") as f:
            f.write(f"mail_root = {mail_root}\n")
        self._mail_root = mail_root
        self.name = name
        super().__init__(binary, data, users, env=env)

    @property
    def mail_root(self):
        return self._mail_root


class Ledger:
    """What the clients saw. Times are time.monotonic() of this one process, so they compare across threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempted = {}         # id -> recipients (DATA body sent)
        self.acknowledged = {}      # id -> accepted recipients (250 after DATA)
        self.acknowledged_by = {"A": 0, "B": 0}
        self.rejected = 0
        self.rejections = []
        self.smtp_connection_failures = 0
        self.sessions = []          # committed or not: dicts, see pop3_worker
        self.in_use_refusals = {"A": 0, "B": 0}
        self.login_failures = []
        self.corrupt_retrievals = []
        self.session_ids = itertools.count(1)


def smtp_load(server, ledger, users, stop, seed):
    rng = random.Random(seed)
    while not stop.is_set():
        client = None
        try:
            client = H.SMTPClient(server.smtp_port, timeout=15)
            client.command("EHLO load.test")
            for _ in range(rng.randint(1, 10)):
                if stop.is_set():
                    break
                recipients = rng.sample(users, 2 if rng.random() < 0.2 else 1)
                sender = f"load{seed}@sender.test"
                message_id, wire = H.make_message(rng, sender, recipients, rng.choice([300, 2000, 15000]))
                with ledger.lock:
                    ledger.attempted[message_id] = recipients
                code, accepted, text = client.transaction(sender, recipients, wire)
                with ledger.lock:
                    if code == 250:
                        ledger.acknowledged[message_id] = accepted
                        ledger.acknowledged_by[server.name] += 1
                    elif code:
                        ledger.rejected += 1
                        if len(ledger.rejections) < 10:
                            ledger.rejections.append(f"{server.name}: {code} {' '.join(text)}")
            client.command("QUIT")
        except (OSError, H.ProtocolError):
            with ledger.lock:
                ledger.smtp_connection_failures += 1
            time.sleep(0.05)
        finally:
            if client:
                client.close()
        time.sleep(rng.uniform(0, 0.05))


ID_LINE = re.compile(r"^X-Torture-Id: *([0-9a-f]+)\s*$", re.I)


def retrieved_id(lines):
    """The id of a RETR'd message, checked against the body hash it carries (None when not intact)."""
    data = "\n".join(lines).encode("latin-1") + b"\n"
    probe = f"/tmp/.gluster-pair-probe-{threading.get_ident()}"
    with open(probe, "wb") as f:
        f.write(data)
    message_id, intact = H.check_file(probe)
    os.unlink(probe)
    return message_id if intact else None


def pop3_worker(server, ledger, user, stop, seed):
    """Repeats: log in, UIDL, RETR a random half (verifying each), DELE about half of those, QUIT.

    Each session records the interval during which the server provably held the maildrop lock: from
    receiving +OK to PASS (the server took the lock before sending it) to sending the last command that got
    a reply before QUIT (the server still held the lock when it answered; it releases before answering QUIT).
    """
    rng = random.Random(seed)
    while not stop.is_set():
        client = None
        session = {"id": next(ledger.session_ids), "instance": server.name, "user": user,
                   "start": None, "end": None, "quit_answered": None, "retrieved": [], "deleted": [], "committed": False}
        try:
            client = H.POP3Client(server.pop3_port, timeout=20)
            if not client.command(f"USER {user}").startswith("+OK"):
                raise H.ProtocolError("USER")
            answer = client.command(f"PASS {H.PASSWORD}")
            if not answer.startswith("+OK"):
                with ledger.lock:
                    if "[IN-USE]" in answer:
                        ledger.in_use_refusals[server.name] += 1
                    elif len(ledger.login_failures) < 10:
                        ledger.login_failures.append(f"{server.name}: {answer}")
                client.command("QUIT")
                continue
            session["start"] = time.monotonic()
            with ledger.lock:
                ledger.sessions.append(session)
            sent = time.monotonic()
            if not client.command("UIDL").startswith("+OK"):
                raise H.ProtocolError("UIDL")
            listing = [line.split() for line in client.multiline()]
            session["end"] = sent
            for number, uid in listing:
                if rng.random() < 0.5:
                    continue
                sent = time.monotonic()
                if not client.command(f"RETR {number}").startswith("+OK"):
                    continue
                lines = client.multiline()
                session["end"] = sent
                message_id = retrieved_id(lines)
                if message_id is None:
                    # The bytes received and whether the id header came through: tells a cut message from
                    # wrong bytes when a failure is looked at.
                    received = sum(len(line) + 1 for line in lines)
                    has_id = any(line.lower().startswith(H.ID_HEADER.lower() + ":") for line in lines)
                    with ledger.lock:
                        ledger.corrupt_retrievals.append((server.name, user, uid, received, has_id))
                    continue
                session["retrieved"].append((message_id, uid, sent))
                if rng.random() < 0.5:
                    sent = time.monotonic()
                    if client.command(f"DELE {number}").startswith("+OK"):
                        session["end"] = sent
                        session["deleted"].append((message_id, uid))
            if client.command("QUIT").startswith("+OK"):
                session["quit_answered"] = time.monotonic()
                session["committed"] = True
        except (OSError, H.ProtocolError):
            time.sleep(0.05)
        finally:
            if client:
                client.close()
        time.sleep(rng.uniform(0, 0.1))


def brick_pids(volume):
    """{brick path: pid} from `gluster volume status VOLUME` (only online bricks)."""
    run = subprocess.run(["gluster", "--mode=script", "volume", "status", volume], capture_output=True, text=True)
    found = {}
    for line in run.stdout.splitlines():
        parts = line.split()
        if line.startswith("Brick ") and len(parts) >= 6 and parts[-2] == "Y" and parts[-1].isdigit():
            found[parts[1]] = int(parts[-1])
    return found


def brick_fault(volume, rng, at, down_seconds, log):
    """Kills one brick process (SIGKILL) at `at` seconds into the run, restarts it with `volume start force`."""
    time.sleep(at)
    pids = brick_pids(volume)
    if not pids:
        log["error"] = "no brick pid found"
        return
    brick = sorted(pids)[rng.randrange(len(pids))]
    os.kill(pids[brick], 9)
    log.update({"brick": brick, "killed_pid": pids[brick], "killed_at_s": round(at, 1)})
    time.sleep(down_seconds)
    run = subprocess.run(["gluster", "--mode=script", "volume", "start", volume, "force"], capture_output=True, text=True)
    log["restart"] = (run.stdout + run.stderr).strip()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and brick not in brick_pids(volume):
        time.sleep(0.5)
    log["back_online"] = brick in brick_pids(volume)
    log["down_s"] = down_seconds


def heal_pending(volume):
    """Entries `gluster volume heal VOLUME info` lists as needing heal (None when the command fails)."""
    run = subprocess.run(["gluster", "--mode=script", "volume", "heal", volume, "info"], capture_output=True, text=True)
    if run.returncode != 0:
        return None
    return sum(int(n) for n in re.findall(r"Number of entries: *(\d+)", run.stdout))


def wait_for_heal(volume, seconds):
    subprocess.run(["gluster", "--mode=script", "volume", "heal", volume], capture_output=True)
    deadline = time.monotonic() + seconds
    pending = heal_pending(volume)
    while pending and time.monotonic() < deadline:
        time.sleep(2)
        pending = heal_pending(volume)
    return pending


def scan_after_heal(path, volume, retries):
    """H.scan_maildir, tried again while GlusterFS answers EIO or ESTALE. Right after a brick was killed and
    restarted the replica can refuse to read a file until self-heal has caught up: once in CI the final scan's
    open() of a stored file gave EIO while the client's open-behind logged ESTALE (2026-12-07, heal had been
    waited for up to 120 s). Each retry asks for a heal and waits 2 s; `retries` records them for the report.
    After 15 tries the error stands, with `heal info` printed, and the run fails."""
    for attempt in range(15):
        try:
            return H.scan_maildir(path)
        except OSError as error:
            if error.errno not in (errno.EIO, errno.ESTALE):
                raise
            retries.append(f"{path}: {error.strerror} (attempt {attempt + 1})")
            if attempt == 14:
                if volume:
                    info = subprocess.run(["gluster", "--mode=script", "volume", "heal", volume, "info"],
                                          capture_output=True, text=True)
                    print(info.stdout + info.stderr, file=sys.stderr)
                raise
            if volume:
                subprocess.run(["gluster", "--mode=script", "volume", "heal", volume], capture_output=True)
            time.sleep(2)


def overlaps(first, second):
    return first["start"] is not None and second["start"] is not None and first["end"] is not None \
        and second["end"] is not None and first["start"] < second["end"] and second["start"] < first["end"]


NO_FLOCK_SOURCE = "int flock(int fd, int operation) { (void)fd; (void)operation; return 0; }\n"


def no_flock_environment(folder):
    """An environment whose LD_PRELOAD turns flock(2) into a no-op that always succeeds (the negative control)."""
    source = os.path.join(folder, "noflock.c")
    library = os.path.join(folder, "noflock.so")
    with open(source, "w") as f:
        f.write(NO_FLOCK_SOURCE)
    compiler = shutil.which("cc") or shutil.which("clang") or "cc"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", library, source], check=True)
    return dict(os.environ, LD_PRELOAD=library)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", default=H.DEFAULT_BINARY)
    parser.add_argument("--mount-a", required=True, help="instance A's mount of the volume")
    parser.add_argument("--mount-b", required=True, help="instance B's mount of the same volume")
    parser.add_argument("--volume", help="the Gluster volume (for the brick kill and the heal check)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--kills", type=int, default=12, help="SIGKILLs per server, spread over the run")
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--smtp-sessions", type=int, default=3, help="SMTP load threads per server")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--quick", action="store_true", help="30 s and 4 kills per server")
    parser.add_argument("--negative-control", action="store_true",
                        help="instance B runs with flock(2) made a no-op (LD_PRELOAD): the lock checks must fail")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.kills = min(args.duration, 30.0), min(args.kills, 4)
    H.require_binary(args.binary)
    rng = random.Random(args.seed)
    print(f"seed {args.seed}")
    run_folder = f"postoffice-pair-{args.seed}-{os.getpid()}"
    root_a = os.path.join(args.mount_a, run_folder, "mail")
    root_b = os.path.join(args.mount_b, run_folder, "mail")
    os.makedirs(root_a)
    if not os.path.isdir(root_b):
        raise SystemExit(f"{root_b} does not show {root_a}: the two mounts are not the same volume")
    users = H.user_names(args.users)
    data_a = H.temporary_directory("po-pair-A-")
    data_b = H.temporary_directory("po-pair-B-")
    servers = {"A": SharedRootServer(args.binary, data_a, users, root_a, "A"),
               "B": SharedRootServer(args.binary, data_b, users, root_b, "B",
                                     env=no_flock_environment(data_b) if args.negative_control else None)}
    ledger = Ledger()
    stop = threading.Event()
    for server in servers.values():
        server.start()
    threads = []
    for name, server in servers.items():
        for index in range(args.smtp_sessions):
            threads.append(threading.Thread(target=smtp_load, args=(server, ledger, users, stop,
                                                                     args.seed * 100 + index + (50 if name == "B" else 0)), daemon=True))
        for index, user in enumerate(users):
            threads.append(threading.Thread(target=pop3_worker, args=(server, ledger, user, stop,
                                                                       args.seed * 7 + index + (50 if name == "B" else 0)), daemon=True))
    for thread in threads:
        thread.start()
    brick_log = {}
    brick_thread = None
    # The brick kill tests GlusterFS's own healing more than the servers: with it, 3 of ~27 quick runs on
    # 2026-12-07 failed on the volume (deletions back after heal, stale reads; never a lost message), with
    # replica 2 and with an arbiter alike. So CI's quick run kills servers only; full runs kill a brick too.
    kills_brick = args.volume and not args.quick
    if kills_brick:
        at = rng.uniform(args.duration * 0.25, args.duration * 0.5)
        brick_thread = threading.Thread(target=brick_fault, args=(args.volume, rng, at, min(10.0, args.duration * 0.2), brick_log),
                                        daemon=True)
        brick_thread.start()
    # Kills: `kills` per server at random moments spread over the run, the two servers in a random order.
    began = time.monotonic()
    moments = sorted(rng.uniform(1.0, args.duration) for _ in range(2 * args.kills))
    victims = ["A", "B"] * args.kills
    rng.shuffle(victims)
    kills = {"A": 0, "B": 0}
    restart_failures = []
    for moment, name in zip(moments, victims):
        time.sleep(max(0.0, moment - (time.monotonic() - began)))
        servers[name].kill()
        kills[name] += 1
        try:
            servers[name].start(timeout=60)
        except RuntimeError as error:
            restart_failures.append(f"{name}: {error}")
            time.sleep(1)
            servers[name].start(timeout=60)
        if args.verbose:
            print(f"kill {name} at {moment:.1f}s: acked {len(ledger.acknowledged)}", file=sys.stderr)
    time.sleep(max(0.0, args.duration - (time.monotonic() - began)))
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    if brick_thread:
        brick_thread.join(timeout=120)
    for server in servers.values():
        server.stop()
    pending_heal = wait_for_heal(args.volume, 120) if args.volume else None

    # Verification. Deleted copies are counted by (id, uid) of committed sessions.
    with ledger.lock:
        acknowledged = dict(ledger.acknowledged)
        attempted = dict(ledger.attempted)
        sessions = list(ledger.sessions)
    committed_deletes = {}
    marked = set()
    for session in sessions:
        for message_id, uid in session["deleted"]:
            marked.add(message_id)
            if session["committed"]:
                committed_deletes.setdefault(message_id, set()).add((session["user"], uid))
    counts = {}
    partial, orphans = [], []
    mismatched_views = []
    read_retries = []
    for user in users:
        local, domain = user.split("@")
        c, p, o = scan_after_heal(os.path.join(root_a, domain, local), args.volume, read_retries)
        c_b, _, _ = scan_after_heal(os.path.join(root_b, domain, local), args.volume, read_retries)
        if c != c_b:
            mismatched_views.append(user)
        counts[user] = c
        partial += p
        orphans += o
    lost, duplicated, resurrected = [], [], []
    for message_id, recipients in acknowledged.items():
        for user in recipients:
            on_disk = counts[user].get(message_id, 0)
            deleted = len([1 for (u, _) in committed_deletes.get(message_id, set()) if u == user])
            total = on_disk + deleted
            if total == 0 and message_id not in marked:
                lost.append((message_id, user))
            elif total > 1:
                duplicated.append((message_id, user, on_disk, deleted))
            if deleted and on_disk:
                resurrected.append((message_id, user))
    # The IN-USE lock: two sessions of one user whose proven lock intervals overlap.
    overlapping = []
    by_user = {}
    for session in sessions:
        by_user.setdefault(session["user"], []).append(session)
    for user, list_ in by_user.items():
        list_.sort(key=lambda s: s["start"])
        for i, first in enumerate(list_):
            for second in list_[i + 1:]:
                if second["start"] >= (first["end"] or first["start"]):
                    break
                if overlaps(first, second):
                    overlapping.append((user, first["id"], first["instance"], second["id"], second["instance"]))
    # A message handed to two sessions at once, and a message RETR'd after a committed session deleted it.
    retrievals = {}
    for session in sessions:
        for message_id, uid, when in session["retrieved"]:
            retrievals.setdefault((session["user"], uid), []).append((session, when))
    double_handed = []
    retrieved_after_delete = []
    # The server unlinks before it answers QUIT: a session that logs in after that answer must not see the file.
    commit_time = {}
    for session in sessions:
        if session["committed"]:
            for message_id, uid in session["deleted"]:
                commit_time[(session["user"], uid)] = session["quit_answered"]
    for key, handed in retrievals.items():
        for (s1, _), (s2, _) in itertools.combinations(handed, 2):
            if s1["id"] != s2["id"] and overlaps(s1, s2):
                double_handed.append((key, s1["id"], s2["id"]))
        if key in commit_time:
            retrieved_after_delete += [(key, s["id"]) for s, _ in handed if s["start"] > commit_time[key]]
    cross_instance_sequences = sum(
        1 for list_ in by_user.values() for a, b in zip(list_, list_[1:]) if a["instance"] != b["instance"])
    result = {
        "seed": args.seed,
        "duration_s": args.duration,
        "kills": kills,
        "acknowledged": len(acknowledged),
        "acknowledged_by_instance": ledger.acknowledged_by,
        "acknowledged_copies": sum(len(r) for r in acknowledged.values()),
        "unacknowledged_attempts": len(attempted) - len(acknowledged),
        "rejected_4xx_5xx": ledger.rejected,
        "smtp_connection_failures": ledger.smtp_connection_failures,
        "pop3_sessions": len(sessions),
        "pop3_sessions_committed": sum(1 for s in sessions if s["committed"]),
        "pop3_sessions_by_instance": {n: sum(1 for s in sessions if s["instance"] == n) for n in ("A", "B")},
        "pop3_user_handovers_between_instances": cross_instance_sequences,
        "in_use_refusals": ledger.in_use_refusals,
        "retrieved": sum(len(s["retrieved"]) for s in sessions),
        "deletions_committed": sum(len(v) for v in committed_deletes.values()),
        "lost_acknowledged": len(lost),
        "duplicated_acknowledged": len(duplicated),
        "confirmed_deletions_resurrected": len(resurrected),
        "retrieved_after_committed_delete": len(retrieved_after_delete),
        "overlapping_pop3_sessions": len(overlapping),
        "messages_handed_to_two_sessions_at_once": len(double_handed),
        "corrupt_retrievals": len(ledger.corrupt_retrievals),
        "partial_files": len(partial),
        "tmp_files_left": len(orphans),
        "mounts_disagree": len(mismatched_views),
        "brick_fault": brick_log,
        "heal_pending_after_run": pending_heal,
        "final_scan_read_retries": read_retries,
        "restart_failures": restart_failures,
        "examples": {"lost": lost[:5], "duplicated": duplicated[:5], "overlapping": overlapping[:5],
                     "double_handed": double_handed[:5], "resurrected": resurrected[:5],
                     "rejections": ledger.rejections, "login_failures": ledger.login_failures,
                     "corrupt": ledger.corrupt_retrievals[:5], "partial": partial[:5]},
    }
    print(json.dumps(result))
    bad = (result["lost_acknowledged"] or result["duplicated_acknowledged"] or result["confirmed_deletions_resurrected"]
           or result["retrieved_after_committed_delete"] or result["overlapping_pop3_sessions"]
           or result["messages_handed_to_two_sessions_at_once"] or result["corrupt_retrievals"]
           or result["partial_files"] or result["tmp_files_left"] or result["mounts_disagree"] or result["acknowledged"] == 0
           or result["pop3_sessions_committed"] == 0
           or (kills_brick and not brick_log.get("back_online")))
    if args.negative_control:
        caught = result["overlapping_pop3_sessions"] > 0
        print(f"negative control (flock a no-op on B): {'the check caught it' if caught else 'NOT CAUGHT'}")
        bad = not caught
    else:
        print(f"gluster pair: {'FAIL' if bad else 'ok'}")
    if args.keep:
        print(f"kept: {data_a} {data_b} {root_a}")
    else:
        H.remove_tree(data_a)
        H.remove_tree(data_b)
        H.remove_tree(os.path.dirname(root_a))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
