#!/usr/bin/env python3
# crash_load: SIGKILLs a loaded `postoffice` at random moments and checks the durability promise — every
# message answered 250 after DATA is in each accepted recipient's Maildir exactly once and intact, no partial
# file is visible in new/ or cur/, and tmp/ holds no orphans after restart. Variants: one recipient per
# message, ten recipients per message (fan-out), and POP3 (kill around UPDATE: unmarked mail must survive).

import argparse
import json
import os
import random
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


def smtp_load(server, ledger, users, recipients_per_message, stop, seed):
    rng = random.Random(seed)
    while not stop.is_set():
        client = None
        try:
            client = H.SMTPClient(server.smtp_port, timeout=15)
            client.command("EHLO torture.test")
            while not stop.is_set():
                sender = rng.choice(users)
                recipients = rng.sample(users, recipients_per_message)
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


def run_variant(name, args, binary):
    data = H.temporary_directory(f"po-crash-{name}-")
    users = H.user_names(args.users)
    server = H.Server(binary, data, users)
    ledger = Ledger()
    restarts = [server.start()]
    listening = [server.last_listen_seconds]
    stop = threading.Event()
    threads = []
    fanout = args.fanout if name == "fanout" else 1
    sessions = args.sessions if name != "pop3" else max(2, args.sessions // 10)
    for index in range(sessions):
        threads.append(threading.Thread(
            target=smtp_load, args=(server, ledger, users, fanout, stop, args.seed * 1000 + index), daemon=True))
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
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", default=H.DEFAULT_BINARY)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--fanout", type=int, default=10)
    parser.add_argument("--variant", choices=["single", "fanout", "pop3", "all"], default="all")
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
    variants = ["single", "fanout", "pop3"] if args.variant == "all" else [args.variant]
    failed = False
    print(f"seed {args.seed}")
    for name in variants:
        result = run_variant(name, args, args.binary)
        print(json.dumps(result))
        sys.stdout.flush()
        bad = (result["lost_acknowledged"] or result["acknowledged_not_exactly_once"] or result["partial_files"]
               or result.get("confirmed_deletions_resurrected", 0)
               or (result["tmp_orphans_after_restart"] and not args.allow_tmp_orphans)
               or result["acknowledged"] == 0)
        print(f"{name}: {'FAIL' if bad else 'ok'}")
        failed = failed or bool(bad)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
