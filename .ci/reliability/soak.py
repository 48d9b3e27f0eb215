#!/usr/bin/env python3
# soak: an hour (by default) of mixed SMTP and POP3 traffic against one `postoffice`, SIGKILLed and restarted
# every five minutes. Checks that nothing acknowledged is lost or duplicated, that POP3 RETR never returns a
# corrupted body, that confirmed POP3 deletions stay deleted, that no partial or tmp/ file survives, that
# resident memory drifts less than 10% within a server life, and that no file descriptor leaks (idle counts).
#
# Each server life pauses the load twice — about a minute in and just before the kill — waits for every client
# to disconnect, and samples VmRSS, RssAnon and the /proc/PID/fd count while the server is idle; RSS is also
# sampled every few seconds under load for a peak figure. Drift is the largest late/early idle RSS ratio over
# the lives; a leak is any idle fd count above the first life's early one. SMTP sessions send several
# messages per connection (1-3 recipients, make_message's sizes) under a global --rate cap; POP3 clients log in
# as random users, STAT/UIDL/LIST, RETR (hash-verified) and TOP, DELE most of what they look at (so the disk
# stays bounded), sometimes RSET or drop the line, and QUIT. This is a script, not part of CI (see run.sh):
#   python3 .ci/reliability/soak.py [--duration 3600] [--kill-every 300] [--binary .build/release/postoffice]
#       [--sessions 8] [--pop3-clients 4] [--users 10] [--rate 40] [--seed N] [--out results.json] [--keep]
# It prints one progress line per life, then the results JSON and PASS or FAIL (exit status 1 on FAIL).

import argparse
import hashlib
import json
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import poharness as H  # noqa: E402

RELEASE_BINARY = os.path.join(H.REPO, ".build", "release", "postoffice")


class Ledger:
    """What the clients know. Deletions are tracked per (id, user): `marked` once a QUIT was sent after a
    DELE (the server may or may not have committed it), `confirmed` once that QUIT was answered +OK."""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempted = {}
        self.acknowledged = {}
        self.marked = set()
        self.confirmed = set()
        self.counters = {k: 0 for k in (
            "smtp_connections", "smtp_quits", "smtp_drops", "rejected", "smtp_connection_failures",
            "pop3_sessions", "pop3_committed", "pop3_busy", "pop3_rsets", "pop3_drops", "pop3_connection_failures",
            "retr", "retr_corrupt", "top", "dele")}
        self.rejections = []
        self.corruptions = []
        # (id, user) seen twice within one POP3 session: a duplicate even if both copies are later deleted.
        self.seen_twice = set()

    def count(self, name, amount=1):
        with self.lock:
            self.counters[name] += amount


class LoadGate:
    """Lets the coordinator pause the load: clients enter before a session and leave after it; `pause` waits
    until none is inside."""

    def __init__(self):
        self.condition = threading.Condition()
        self.paused = False
        self.stopped = False
        self.active = 0

    def enter(self):
        with self.condition:
            while self.paused and not self.stopped:
                self.condition.wait(0.5)
            if self.stopped:
                return False
            self.active += 1
            return True

    def leave(self):
        with self.condition:
            self.active -= 1
            self.condition.notify_all()

    def should_wind_down(self):
        return self.paused or self.stopped

    def pause(self, timeout=60):
        with self.condition:
            self.paused = True
            deadline = time.monotonic() + timeout
            while self.active > 0 and time.monotonic() < deadline:
                self.condition.wait(0.2)
            return self.active == 0

    def resume(self):
        with self.condition:
            self.paused = False
            self.condition.notify_all()

    def stop(self):
        with self.condition:
            self.stopped = True
            self.condition.notify_all()


class RateLimiter:
    """A shared cap on messages per second across every SMTP session."""

    def __init__(self, rate):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.lock = threading.Lock()
        self.next_slot = time.monotonic()

    def wait(self):
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.next_slot)
            self.next_slot = slot + self.interval
        delay = slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def smtp_load(server, ledger, gate, limiter, users, seed):
    rng = random.Random(seed)
    while gate.enter():
        client = None
        try:
            client = H.SMTPClient(server.smtp_port, timeout=30)
            ledger.count("smtp_connections")
            client.command("EHLO soak.test")
            for _ in range(rng.randint(1, 12)):
                limiter.wait()
                if gate.should_wind_down():
                    break
                sender = rng.choice(users)
                recipients = rng.sample(users, rng.randint(1, 3))
                message_id, wire = H.make_message_quickly(rng, sender, recipients)
                # Recorded before sending: a kill may come before the reply, and the message may be stored.
                with ledger.lock:
                    ledger.attempted[message_id] = recipients
                code, accepted, text = client.transaction(sender, recipients, wire)
                with ledger.lock:
                    if code == 250:
                        ledger.acknowledged[message_id] = accepted
                    elif code:
                        ledger.counters["rejected"] += 1
                        if len(ledger.rejections) < 10:
                            ledger.rejections.append(f"{code} {' '.join(text)}")
            if rng.random() < 0.85:
                client.command("QUIT")
                ledger.count("smtp_quits")
            else:
                ledger.count("smtp_drops")
        except (OSError, H.ProtocolError):
            ledger.count("smtp_connection_failures")
            time.sleep(0.05)
        finally:
            if client:
                client.close()
            gate.leave()


def retrieved_id_and_intact(lines):
    """From RETR's lines (dot-unstuffed): (id or None, body hash matches the X-Torture-Hash header?)."""
    try:
        separator = lines.index("")
    except ValueError:
        return None, False
    fields = {}
    for line in lines[:separator]:
        name, colon, value = line.partition(":")
        if colon:
            fields[name.strip().lower()] = value.strip()
    body = "\n".join(lines[separator + 1:]) + "\n"
    message_id = fields.get(H.ID_HEADER.lower())
    digest = fields.get(H.HASH_HEADER.lower())
    if message_id is None or digest is None:
        return message_id, False
    return message_id, hashlib.sha256(body.encode("latin-1")).hexdigest() == digest


def top_id(client, number):
    if not client.command(f"TOP {number} 0").startswith("+OK"):
        return None
    for line in client.multiline():
        if line.lower().startswith(H.ID_HEADER.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


def pop3_session(server, ledger, user, rng):
    client = H.POP3Client(server.pop3_port, timeout=30)
    try:
        if not client.command(f"USER {user}").startswith("+OK"):
            raise H.ProtocolError("USER")
        answer = client.command(f"PASS {H.PASSWORD}")
        if not answer.startswith("+OK"):
            # Most likely the maildrop is locked by another of our clients.
            ledger.count("pop3_busy")
            client.command("QUIT")
            return
        ledger.count("pop3_sessions")
        if not client.command("STAT").startswith("+OK"):
            raise H.ProtocolError("STAT")
        if not client.command("UIDL").startswith("+OK"):
            raise H.ProtocolError("UIDL")
        client.multiline()
        if not client.command("LIST").startswith("+OK"):
            raise H.ProtocolError("LIST")
        numbers = [int(line.split()[0]) for line in client.multiline() if line.split()]
        rng.shuffle(numbers)
        pending = []
        seen = set()
        for number in numbers[:40]:
            if rng.random() < 0.35:
                if not client.command(f"RETR {number}").startswith("+OK"):
                    continue
                message_id, intact = retrieved_id_and_intact(client.multiline())
                with ledger.lock:
                    ledger.counters["retr"] += 1
                    if not intact:
                        ledger.counters["retr_corrupt"] += 1
                        if len(ledger.corruptions) < 10:
                            ledger.corruptions.append((user, number, message_id))
            else:
                message_id = top_id(client, number)
                ledger.count("top")
            if message_id is not None and message_id in seen:
                with ledger.lock:
                    ledger.seen_twice.add((message_id, user))
            seen.add(message_id)
            if message_id is None or rng.random() > 0.75:
                continue
            if client.command(f"DELE {number}").startswith("+OK"):
                pending.append((message_id, user))
                ledger.count("dele")
        if pending and rng.random() < 0.05:
            # RSET unmarks everything: these copies must stay exactly once.
            client.command("RSET")
            ledger.count("pop3_rsets")
            pending = []
        if rng.random() < 0.03:
            # Dropping the line without QUIT leaves the maildrop untouched (RFC 1939 section 6).
            ledger.count("pop3_drops")
            return
        with ledger.lock:
            ledger.marked.update(pending)
        if client.command("QUIT").startswith("+OK"):
            with ledger.lock:
                ledger.confirmed.update(pending)
                ledger.counters["pop3_committed"] += 1
    finally:
        client.close()


def pop3_load(server, ledger, gate, users, seed):
    rng = random.Random(seed)
    while gate.enter():
        try:
            pop3_session(server, ledger, rng.choice(users), rng)
        except (OSError, H.ProtocolError, ValueError):
            ledger.count("pop3_connection_failures")
            time.sleep(0.05)
        finally:
            gate.leave()
        time.sleep(rng.uniform(0.05, 0.3))


def process_sample(pid):
    """VmRSS and RssAnon (kB) and the open descriptor count of a process, or None if it is gone."""
    try:
        fields = {}
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "RssAnon"):
                    fields[name] = int(value.split()[0])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, ValueError):
        return None
    return {"rss_kb": fields.get("VmRSS"), "anon_kb": fields.get("RssAnon"), "fds": fds}


def idle_sample(server, gate, started):
    """Pauses the load, waits for the server's descriptor count to settle, samples, and resumes."""
    drained = gate.pause()
    sample = None
    previous = None
    settle_deadline = time.monotonic() + 10
    time.sleep(1.0)
    while time.monotonic() < settle_deadline:
        sample = process_sample(server.process.pid)
        if sample is None or (previous is not None and sample["fds"] == previous["fds"]):
            break
        previous = sample
        time.sleep(0.5)
    gate.resume()
    if sample is not None:
        sample["at_s"] = round(time.monotonic() - started, 1)
        sample["clients_drained"] = drained
    return sample


class PeakSampler(threading.Thread):
    """Samples the current server's RSS every few seconds under load."""

    def __init__(self, server, interval):
        super().__init__(daemon=True)
        self.server = server
        self.interval = interval
        self.done = threading.Event()
        self.life_peak = 0
        self.overall_peak = 0
        self.lock = threading.Lock()

    def run(self):
        while not self.done.wait(self.interval):
            process = self.server.process
            sample = process_sample(process.pid) if process and process.poll() is None else None
            if sample and sample["rss_kb"]:
                with self.lock:
                    self.life_peak = max(self.life_peak, sample["rss_kb"])
                    self.overall_peak = max(self.overall_peak, sample["rss_kb"])

    def take_life_peak(self):
        with self.lock:
            peak, self.life_peak = self.life_peak, 0
        return peak


def sleep_until(moment, stop):
    while not stop.is_set():
        remaining = moment - time.monotonic()
        if remaining <= 0:
            return
        stop.wait(min(remaining, 1.0))


def verify(server, users, ledger):
    with ledger.lock:
        acknowledged = dict(ledger.acknowledged)
        attempted = dict(ledger.attempted)
        marked = set(ledger.marked)
        confirmed = set(ledger.confirmed)
        seen_twice = set(ledger.seen_twice)
    counts, partial, orphans = {}, [], []
    for user in users:
        c, p, o = H.scan_maildir(server.maildir(user))
        counts[user] = c
        partial += p
        orphans += [os.path.join(server.maildir(user), "tmp", n) for n in o]
    lost, duplicated, resurrected = [], [], []
    for message_id, recipients in acknowledged.items():
        for user in recipients:
            n = counts[user].get(message_id, 0)
            key = (message_id, user)
            if key in confirmed:
                if n:
                    resurrected.append(key)
            elif n > 1:
                duplicated.append((message_id, user, n))
            elif n == 0 and key not in marked:
                lost.append(key)
            if key in seen_twice and n <= 1:
                duplicated.append((message_id, user, "seen twice in one POP3 session"))
    unacknowledged_delivered = unacknowledged_duplicates = 0
    for message_id, recipients in attempted.items():
        if message_id in acknowledged:
            continue
        present = [counts[u].get(message_id, 0) for u in recipients]
        unacknowledged_delivered += any(present)
        unacknowledged_duplicates += any(n > 1 for n in present)
    return {
        "acknowledged": len(acknowledged),
        "acknowledged_copies": sum(len(r) for r in acknowledged.values()),
        "attempted": len(attempted),
        "copies_on_disk": sum(sum(c.values()) for c in counts.values()),
        "marked_deleted": len(marked),
        "deletions_confirmed": len(confirmed),
        "lost_acknowledged": len(lost),
        "duplicated_acknowledged": len(duplicated),
        "confirmed_deletions_resurrected": len(resurrected),
        "unacknowledged_delivered": unacknowledged_delivered,
        "unacknowledged_duplicates": unacknowledged_duplicates,
        "partial_files": len(partial),
        "tmp_orphans": len(orphans),
        "examples": {"lost": lost[:5], "duplicated": duplicated[:5], "resurrected": resurrected[:5],
                     "partial": partial[:5], "orphans": orphans[:5]},
    }


def memory_summary(lives):
    complete = [life for life in lives if life.get("early") and life.get("late")]
    drifts = [life["late"]["rss_kb"] / life["early"]["rss_kb"] - 1 for life in complete if life["early"]["rss_kb"]]
    anon_drifts = [life["late"]["anon_kb"] / life["early"]["anon_kb"] - 1 for life in complete
                   if life["early"].get("anon_kb") and life["late"].get("anon_kb")]
    first_fds = lives[0]["early"]["fds"] if lives and lives[0].get("early") else None
    idle_fds = [life[k]["fds"] for life in lives for k in ("early", "late") if life.get(k)]
    leaks = [n for n in idle_fds if first_fds is not None and n > first_fds]
    summary = {
        "lives_sampled": len(complete),
        "drift_max": round(max(drifts), 4) if drifts else None,
        "drift_per_life": [round(d, 4) for d in drifts],
        # RssAnon alone (heap, no shared libraries): more sensitive, reported but not judged.
        "anon_drift_max": round(max(anon_drifts), 4) if anon_drifts else None,
        "anon_drift_per_life": [round(d, 4) for d in anon_drifts],
        "first_life_late_rss_kb": complete[0]["late"]["rss_kb"] if complete else None,
        "last_life_late_rss_kb": complete[-1]["late"]["rss_kb"] if complete else None,
        "first_life_early_idle_fds": first_fds,
        "idle_fds_max": max(idle_fds) if idle_fds else None,
        "fd_leak": bool(leaks),
    }
    if complete and complete[0]["late"]["rss_kb"]:
        summary["last_vs_first_late_rss"] = round(
            complete[-1]["late"]["rss_kb"] / complete[0]["late"]["rss_kb"] - 1, 4)
    if complete and complete[0]["late"].get("anon_kb"):
        summary["first_life_late_anon_kb"] = complete[0]["late"]["anon_kb"]
        summary["last_life_late_anon_kb"] = complete[-1]["late"]["anon_kb"]
    return summary


def main():
    parser = argparse.ArgumentParser(description="One bounded soak run of postoffice (see the header comment).")
    parser.add_argument("--duration", type=float, default=3600, help="seconds of load in total (3600)")
    parser.add_argument("--kill-every", type=float, default=300, help="seconds per server life before SIGKILL (300)")
    parser.add_argument("--binary", default=RELEASE_BINARY, help="postoffice binary (the release build)")
    parser.add_argument("--sessions", type=int, default=8, help="concurrent SMTP clients (8)")
    parser.add_argument("--pop3-clients", type=int, default=4, help="concurrent POP3 clients (4)")
    parser.add_argument("--users", type=int, default=10, help="mailboxes (10)")
    parser.add_argument("--rate", type=float, default=40, help="cap on messages per second over all sessions (40)")
    parser.add_argument("--early-sample", type=float, default=60, help="seconds into each life of the first idle sample")
    parser.add_argument("--peak-interval", type=float, default=3, help="seconds between RSS samples under load")
    parser.add_argument("--max-drift", type=float, default=0.10, help="largest allowed late/early RSS growth (0.10)")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--out", help="also write the results JSON here (rewritten after every life)")
    parser.add_argument("--keep", action="store_true", help="keep the data folder (it is always kept on FAIL)")
    args = parser.parse_args()
    H.require_binary(args.binary)
    # Lives: full --kill-every periods; the last one ends with a graceful stop at --duration.
    kill_every = min(args.kill_every, args.duration)
    early_at = min(args.early_sample, kill_every / 3)
    late_lead = min(15.0, kill_every / 6)

    data = H.temporary_directory("po-soak-")
    users = H.user_names(args.users)
    server = H.Server(args.binary, data, users)
    ledger = Ledger()
    gate = LoadGate()
    limiter = RateLimiter(args.rate)
    stop = threading.Event()
    lives = []
    unexpected_exits = []
    results = {"seed": args.seed, "binary": args.binary, "data": data, "status": "running",
               "config": {k: getattr(args, k) for k in ("duration", "kill_every", "sessions", "pop3_clients",
                                                       "users", "rate", "max_drift")}}

    def write_out():
        if args.out:
            temporary = args.out + ".part"
            with open(temporary, "w") as f:
                json.dump(results, f, indent=1)
            os.replace(temporary, args.out)

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    print(f"soak: seed {args.seed}, data {data}, {args.duration:.0f} s, kill every {kill_every:.0f} s", flush=True)
    threads = []
    sampler = PeakSampler(server, args.peak_interval)
    interrupted = None
    began = time.monotonic()
    try:
        restart = server.start()
        sampler.start()
        for index in range(args.sessions):
            threads.append(threading.Thread(target=smtp_load, daemon=True,
                                            args=(server, ledger, gate, limiter, users, args.seed * 1000 + index)))
        for index in range(args.pop3_clients):
            threads.append(threading.Thread(target=pop3_load, daemon=True,
                                            args=(server, ledger, gate, users, args.seed * 7919 + index)))
        for t in threads:
            t.start()
        end = began + args.duration
        rng = random.Random(args.seed)
        while True:
            life_start = time.monotonic()
            life_end = min(life_start + kill_every, end)
            last = end - life_end < kill_every / 2
            if last:
                life_end = end
            life = {"life": len(lives) + 1, "pid": server.process.pid, "restart_ms": round(restart * 1000, 1),
                    "listening_ms": round(server.last_listen_seconds * 1000, 1)
                    if server.last_listen_seconds is not None else None}
            lives.append(life)
            sleep_until(life_start + early_at, stop)
            life["early"] = idle_sample(server, gate, life_start)
            sleep_until(life_end - late_lead, stop)
            life["late"] = idle_sample(server, gate, life_start)
            with ledger.lock:
                life["acknowledged_so_far"] = len(ledger.acknowledged)
                life["retr_corrupt_so_far"] = ledger.counters["retr_corrupt"]
            if not server.alive():
                unexpected_exits.append({"life": life["life"], "status": server.process.returncode})
            if last:
                # Let the load run again until the end, then stop it and the server gracefully.
                sleep_until(life_end, stop)
                life["peak_rss_kb"] = sampler.take_life_peak()
                break
            # The kill comes under load, a few seconds after the late idle sample.
            sleep_until(min(life_end, time.monotonic() + rng.uniform(2, late_lead)), stop)
            life["peak_rss_kb"] = sampler.take_life_peak()
            if not server.alive():
                unexpected_exits.append({"life": life["life"], "status": server.process.returncode})
            server.kill()
            life["killed_at_s"] = round(time.monotonic() - life_start, 1)
            restart = server.start()
            print(f"life {life['life']}: early {life['early']} late {life['late']} peak {life['peak_rss_kb']} kB, "
                  f"acked {life['acknowledged_so_far']}; restarted in {restart * 1000:.0f} ms", flush=True)
            results["lives"] = lives
            results["counters"] = dict(ledger.counters)
            write_out()
    except KeyboardInterrupt as error:
        interrupted = str(error) or "interrupted"
    finally:
        gate.stop()
        stop.set()
        for t in threads:
            t.join(timeout=60)
        sampler.done.set()
        if server.alive():
            server.stop()
        graceful = server.process.returncode if server.process else None

    verification = verify(server, users, ledger)
    memory = memory_summary(lives)
    with ledger.lock:
        counters = dict(ledger.counters)
        examples = {"rejections": list(ledger.rejections), "corruptions": list(ledger.corruptions)}
    failures = []
    for key in ("lost_acknowledged", "duplicated_acknowledged", "confirmed_deletions_resurrected", "partial_files",
                "tmp_orphans"):
        if verification[key]:
            failures.append(f"{key}={verification[key]}")
    if counters["retr_corrupt"]:
        failures.append(f"retr_corrupt={counters['retr_corrupt']}")
    if verification["acknowledged"] == 0:
        failures.append("nothing acknowledged")
    if memory["drift_max"] is None:
        failures.append("no complete memory samples")
    elif memory["drift_max"] >= args.max_drift:
        failures.append(f"drift_max={memory['drift_max']}")
    if memory["fd_leak"]:
        failures.append(f"fd_leak (idle max {memory['idle_fds_max']} > {memory['first_life_early_idle_fds']})")
    if unexpected_exits:
        failures.append(f"server exited by itself {len(unexpected_exits)} time(s)")
    if graceful not in (0, None):
        failures.append(f"graceful stop exit status {graceful}")
    if interrupted:
        failures.append(f"interrupted: {interrupted}")
    results.update({
        "status": "FAIL" if failures else "PASS",
        "failures": failures,
        "elapsed_s": round(time.monotonic() - began, 1),
        "kills": sum(1 for life in lives if "killed_at_s" in life),
        "restart_p50_ms": round(H.percentile([life["restart_ms"] for life in lives], 50), 1),
        "restart_max_ms": max(life["restart_ms"] for life in lives) if lives else None,
        "peak_rss_kb": sampler.overall_peak,
        "graceful_stop_status": graceful,
        "unexpected_exits": unexpected_exits,
        "counters": counters,
        "verification": verification,
        "memory": memory,
        "lives": lives,
        "examples": examples,
    })
    if failures or args.keep:
        results["data_kept"] = data
    else:
        H.remove_tree(data)
        results["data"] = None
    write_out()
    print(json.dumps(results, indent=1))
    print("PASS" if not failures else "FAIL: " + "; ".join(failures), flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
