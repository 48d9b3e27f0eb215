#!/usr/bin/env python3
# crash_load: SIGKILLs a loaded `postoffice` at random moments and checks the durability promise — every
# message answered 250 after DATA is in each accepted recipient's Maildir exactly once and intact, no partial
# file is visible in new/ or cur/, and tmp/ holds no orphans after restart. Variants: one recipient per
# message, ten recipients per message (fan-out), POP3 (kill around UPDATE: unmarked mail must survive), and
# outbound (the server relays to Postfix's smtp-sink on 127.0.0.2 through the queue while it is killed: every
# acknowledged remote copy reaches the sink at least once, duplicates are counted, the queue drains after the
# final restart and no queue file is corrupt).

import argparse
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import poharness as H  # noqa: E402


class Ledger:
    """What the clients know: messages sent (DATA body written) and messages acknowledged (250 read)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempted = {}
        self.acknowledged = {}
        self.rejected = 0
        self.rejections = []
        self.connection_failures = 0
        # POP3: ids marked deleted in a session, and those whose QUIT got +OK.
        self.marked = set()
        self.deletion_confirmed = set()
        self.pop3_sessions = 0


REMOTE_DOMAIN = "remote.test"


def outbound_recipients(rng, users):
    """One or two remote recipients, and a local one half of the time (a mixed message)."""
    remote = [f"r{n}@{REMOTE_DOMAIN}" for n in rng.sample(range(50), rng.choice([1, 2]))]
    return remote + ([rng.choice(users)] if rng.random() < 0.5 else [])


def smtp_load(server, ledger, users, recipients_per_message, stop, seed, pick=None):
    rng = random.Random(seed)
    while not stop.is_set():
        client = None
        try:
            client = H.SMTPClient(server.smtp_port, timeout=15)
            client.command("EHLO torture.test")
            while not stop.is_set():
                sender = rng.choice(users)
                recipients = pick(rng, users) if pick else rng.sample(users, recipients_per_message)
                message_id, wire = H.make_message(rng, sender, recipients)
                # Recorded before sending: a kill may come before any reply, and such a message may
                # still have been stored (it is then "delivered, not acknowledged").
                with ledger.lock:
                    ledger.attempted[message_id] = recipients
                code, accepted, text = client.transaction(sender, recipients, wire)
                with ledger.lock:
                    if code == 250:
                        ledger.acknowledged[message_id] = accepted
                    elif code:
                        ledger.rejected += 1
                        if len(ledger.rejections) < 10:
                            ledger.rejections.append(f"{code} {' '.join(text)}")
        except (OSError, H.ProtocolError):
            with ledger.lock:
                ledger.connection_failures += 1
            time.sleep(0.02)
        finally:
            if client:
                client.close()


def pop3_deleter(server, ledger, user, stop, seed):
    """Logs in, marks about a third of the messages deleted (learning their ids with TOP), QUITs; repeats."""
    rng = random.Random(seed)
    while not stop.is_set():
        client = None
        marked = []
        try:
            client = H.POP3Client(server.pop3_port, timeout=15)
            client.login(user)
            answer = client.command("UIDL")
            if not answer.startswith("+OK"):
                raise H.ProtocolError("UIDL")
            numbers = [int(line.split()[0]) for line in client.multiline()]
            for number in numbers:
                if rng.random() > 0.33:
                    continue
                if not client.command(f"TOP {number} 0").startswith("+OK"):
                    continue
                header = [line for line in client.multiline() if line.lower().startswith(H.ID_HEADER.lower() + ":")]
                if not header:
                    continue
                message_id = header[0].split(":", 1)[1].strip()
                with ledger.lock:
                    ledger.marked.add(message_id)
                if client.command(f"DELE {number}").startswith("+OK"):
                    marked.append(message_id)
            answer = client.command("QUIT")
            if answer.startswith("+OK"):
                with ledger.lock:
                    ledger.deletion_confirmed.update(marked)
                    ledger.pop3_sessions += 1
        except (OSError, H.ProtocolError):
            time.sleep(0.02)
        finally:
            if client:
                client.close()
        time.sleep(rng.uniform(0, 0.05))


class Sink:
    """Postfix's smtp-sink on 127.0.0.2, dumping every transaction to a file (its -d option)."""

    def __init__(self, directory):
        self.directory = directory
        self.port = H.free_port()
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o777)
        command = [H.find_tool("smtp-sink"), "-d", os.path.join(directory, "%H%M/m."), f"127.0.0.2:{self.port}", "256"]
        if os.getuid() == 0:
            command[1:1] = ["-u", "nobody"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        # smtp-sink ignores SIGTERM.
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def received(self):
        """{(id, recipient): complete copies} and the number of incomplete dumps (a transaction cut off)."""
        counts, incomplete = {}, 0
        for path in glob.glob(os.path.join(self.directory, "*", "m.*")):
            with open(path, "rb") as f:
                data = f.read()
            envelope, _, message = data.partition(b"Received: ")
            recipients = [line.split(b"<", 1)[1].split(b">", 1)[0].decode() for line in envelope.splitlines()
                          if line.startswith(b"X-Rcpt-Args:") and b"<" in line]
            complete = None
            for candidate in (message, message[:-1] if message.endswith(b"\n\n") else message):
                probe = path + ".probe"
                with open(probe, "wb") as f:
                    f.write(b"Received: " + candidate)
                message_id, intact = H.check_file(probe)
                os.unlink(probe)
                if message_id and intact:
                    complete = message_id
                    break
            if complete is None:
                incomplete += 1
                continue
            for recipient in recipients:
                counts[(complete, recipient)] = counts.get((complete, recipient), 0) + 1
        return counts, incomplete


def queue_messages(binary, data):
    """The messages `postoffice queue list --json` shows (None when it fails)."""
    run = subprocess.run([binary, "queue", "list", "--json", "--data", data], capture_output=True, text=True)
    if run.returncode != 0:
        return None
    return json.loads(run.stdout).get("messages", [])


def run_variant(name, args, binary):
    data = H.temporary_directory(f"po-crash-{name}-")
    users = H.user_names(args.users)
    sink = None
    if name == "outbound":
        # Its own folder, outside the 0700 data folder: smtp-sink writes as nobody.
        sink = Sink(os.path.join(H.temporary_directory("po-crash-sink-"), "dump"))
        os.chmod(os.path.dirname(sink.directory), 0o755)
        with open(os.path.join(data, "postoffice.conf"), "w") as f:
            f.write(f"relay_networks = 127.0.0.0/8\ndeliver_outbound = yes\nrelayhost = 127.0.0.2:{sink.port}\n"
                    "outbound_tls = may\nqueue_run_interval = 1\ndns_servers = 127.0.0.1:1\n")
    server = H.Server(binary, data, users)
    ledger = Ledger()
    restarts = [server.start()]
    listening = [server.last_listen_seconds]
    stop = threading.Event()
    threads = []
    fanout = args.fanout if name == "fanout" else 1
    sessions = args.sessions if name != "pop3" else max(2, args.sessions // 10)
    pick = outbound_recipients if name == "outbound" else None
    for index in range(sessions):
        threads.append(threading.Thread(
            target=smtp_load, args=(server, ledger, users, fanout, stop, args.seed * 1000 + index, pick), daemon=True))
    if name == "pop3":
        # Let mailboxes fill a little before the deleters start.
        for t in threads:
            t.start()
        time.sleep(1.0)
        deleters = [threading.Thread(target=pop3_deleter, args=(server, ledger, u, stop, args.seed * 7 + i), daemon=True)
                    for i, u in enumerate(users)]
        for t in deleters:
            t.start()
        threads += deleters
    else:
        for t in threads:
            t.start()
    rng = random.Random(args.seed)
    low, high = (0.05, 3.0) if name != "pop3" else (0.05, 1.0)
    for kill in range(args.kills):
        time.sleep(rng.uniform(low, high))
        server.kill()
        restarts.append(server.start())
        listening.append(server.last_listen_seconds)
        if args.verbose:
            print(f"[{name}] kill {kill + 1}/{args.kills}: acked {len(ledger.acknowledged)}", file=sys.stderr)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    time.sleep(0.2)
    queue_left, queue_failed, corrupt = None, 0, 0
    if name == "outbound":
        # The final restart has already happened (every kill is followed by a start): let the queue drain.
        subprocess.run([binary, "queue", "flush", "--data", data], capture_output=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            messages = queue_messages(binary, data)
            if messages is not None and not [m for m in messages if m.get("location") != "failed"]:
                break
            time.sleep(0.5)
            subprocess.run([binary, "queue", "flush", "--data", data], capture_output=True)
        messages = queue_messages(binary, data) or []
        queue_left = len([m for m in messages if m.get("location") != "failed"])
        queue_failed = len([m for m in messages if m.get("location") == "failed"])
        corrupt_directory = os.path.join(data, "queue", "corrupt")
        corrupt = len(os.listdir(corrupt_directory)) if os.path.isdir(corrupt_directory) else 0

    # Verification against the disk.
    with ledger.lock:
        acknowledged = dict(ledger.acknowledged)
        attempted = dict(ledger.attempted)
        marked = set(ledger.marked)
        confirmed = set(ledger.deletion_confirmed)
    counts = {}
    partial = []
    orphans = []
    for user in users:
        c, p, o = H.scan_maildir(server.maildir(user))
        counts[user] = c
        partial += p
        orphans += [os.path.join(server.maildir(user), "tmp", n) for n in o]
    incomplete_at_sink = 0
    if sink:
        sink.stop()
        remote, incomplete_at_sink = sink.received()
        for message_id, recipients in attempted.items():
            for recipient in recipients:
                if recipient.endswith("@" + REMOTE_DOMAIN):
                    counts.setdefault(recipient, {})[message_id] = remote.get((message_id, recipient), 0)
    lost = []
    duplicated_acknowledged = []
    for message_id, recipients in acknowledged.items():
        for user in recipients:
            n = counts[user].get(message_id, 0)
            if n == 0 and message_id not in marked:
                lost.append((message_id, user))
            elif n > 1:
                duplicated_acknowledged.append((message_id, user, n))
    unacknowledged_delivered = 0
    unacknowledged_duplicates = 0
    unacknowledged_partial_fanout = 0
    for message_id, recipients in attempted.items():
        if message_id in acknowledged:
            continue
        present = [u for u in recipients if counts[u].get(message_id, 0) > 0]
        if present:
            unacknowledged_delivered += 1
        if any(counts[u].get(message_id, 0) > 1 for u in recipients):
            unacknowledged_duplicates += 1
        if present and len(present) != len(recipients) and message_id not in marked:
            unacknowledged_partial_fanout += 1
    resurrected = []
    if name == "pop3":
        for message_id in confirmed:
            for user in acknowledged.get(message_id, attempted.get(message_id, [])):
                if counts[user].get(message_id, 0) > 0:
                    resurrected.append((message_id, user))
    server.stop()
    result = {
        "variant": name,
        "kills": args.kills,
        "sessions": sessions,
        "recipients_per_message": fanout,
        "acknowledged": len(acknowledged),
        "acknowledged_copies": sum(len(r) for r in acknowledged.values()),
        "rejected_4xx_5xx": ledger.rejected,
        "lost_acknowledged": len(lost),
        "acknowledged_not_exactly_once": len(lost) + len(duplicated_acknowledged),
        "unacknowledged_delivered": unacknowledged_delivered,
        "unacknowledged_duplicates": unacknowledged_duplicates,
        "unacknowledged_partial_fanout": unacknowledged_partial_fanout,
        "partial_files": len(partial),
        "tmp_orphans_after_restart": len(orphans),
        "restart_p50_ms": round(H.percentile(restarts, 50) * 1000, 1),
        "restart_p99_ms": round(H.percentile(restarts, 99) * 1000, 1),
        # The same restart seen from the server's log (spawn -> listening), free of the harness's GIL delays.
        "listening_p50_ms": round(H.percentile([x for x in listening if x is not None], 50) * 1000, 1),
        "listening_p99_ms": round(H.percentile([x for x in listening if x is not None], 99) * 1000, 1),
    }
    if name == "outbound":
        # A kill between the sink's 250 and the queue's update sends a copy again: counted, never a failure.
        result.update({
            "remote_copies_acknowledged": sum(1 for r in acknowledged.values() for u in r if u.endswith("@" + REMOTE_DOMAIN)),
            "remote_duplicates": sum(1 for (m, r, n) in duplicated_acknowledged if r.endswith("@" + REMOTE_DOMAIN)),
            "incomplete_transactions_at_sink": incomplete_at_sink,
            "queue_left_after_final_restart": queue_left,
            "queue_failed": queue_failed,
            "queue_corrupt": corrupt,
        })
    if name == "pop3":
        result.update({
            "pop3_sessions_committed": ledger.pop3_sessions,
            "marked_deleted": len(marked),
            "deletions_confirmed": len(confirmed),
            "confirmed_deletions_resurrected": len(resurrected),
        })
    result["examples"] = {"rejections": ledger.rejections,"lost": lost[:5], "duplicated": duplicated_acknowledged[:5], "partial": partial[:5],
                          "orphans": orphans[:3], "resurrected": resurrected[:5]}
    if args.keep:
        result["data"] = data
    else:
        H.remove_tree(data)
        if sink:
            H.remove_tree(os.path.dirname(sink.directory))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", default=H.DEFAULT_BINARY)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--fanout", type=int, default=10)
    parser.add_argument("--variant", choices=["single", "fanout", "pop3", "outbound", "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="10 kills per variant (CI)")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--allow-tmp-orphans", action="store_true",
                        help="do not fail on tmp/ orphans (the server does not clean tmp/ at startup yet)")
    parser.add_argument("--keep", action="store_true", help="keep the data folders")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.kills = min(args.kills, 10)
    H.require_binary(args.binary)
    variants = ["single", "fanout", "pop3", "outbound"] if args.variant == "all" else [args.variant]
    failed = False
    print(f"seed {args.seed}")
    for name in variants:
        result = run_variant(name, args, args.binary)
        print(json.dumps(result))
        sys.stdout.flush()
        # Outbound: a duplicate at the sink is allowed (reported); a loss, a corrupt queue file, a message
        # left in the queue or a failed one (the sink never refuses) is not.
        duplicates_allowed = result.get("remote_duplicates", 0)
        bad = (result["lost_acknowledged"] or result["acknowledged_not_exactly_once"] - duplicates_allowed
               or result["partial_files"] or result.get("queue_left_after_final_restart") or result.get("queue_failed")
               or result.get("queue_corrupt")
               or result.get("confirmed_deletions_resurrected", 0)
               or (result["tmp_orphans_after_restart"] and not args.allow_tmp_orphans)
               or result["acknowledged"] == 0)
        print(f"{name}: {'FAIL' if bad else 'ok'}")
        failed = failed or bool(bad)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
