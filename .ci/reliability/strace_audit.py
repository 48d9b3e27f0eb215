#!/usr/bin/env python3
# strace_audit: runs `postoffice` under strace while sending multi-recipient messages, then checks in the
# trace that for every stored copy fsync(file) -> link or rename into new/ -> fsync(new/) all completed before
# the `250` after DATA was written to that client's socket, and (all or nothing) that every copy of a message
# was fsync'd, after it was created, before the first copy of that message became visible. Up to 16 Maildirs
# every copy is an unnamed O_TMPFILE file: fsync(it) -> linkat(AT_EMPTY_PATH) into new/ -> fsync(new/); the
# runs are: 3 recipients (unnamed copies, required to be seen as links), 1 recipient (the unnamed draft) and
# 17 recipients (above the limit: named files in tmp/ renamed into new/). A further run relays messages to remote recipients and
# checks the outbound queue's commit the same way: fsync(queue/tmp/ID) -> rename into queue/messages/ID ->
# fsync(queue/messages/) before the 250 (issue 14: one file per message; no directory fsync inside the draft,
# since a message is one file, and the first state is inside that file). Negative control: the same runs under
# eatmydata (fsync becomes a no-op in libc, so the fsyncs vanish from the trace) must make the audit fail.

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import poharness as H  # noqa: E402

SYSCALLS = ("openat,open,write,writev,pwrite64,fsync,fdatasync,sync_file_range,syncfs,rename,renameat,renameat2,"
            "link,linkat,unlink,unlinkat,close,sendto,sendmsg,copy_file_range")
LINE = re.compile(r"^(\d+)\s+(\S+)\s+(.*)$")
CALL = re.compile(r"^(\w+)\((.*)\)\s+=\s+(-?\d+|\?)(.*)$")
UNFINISHED = re.compile(r"^(\w+)\((.*) <unfinished \.\.\.>$")
RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)\)\s+=\s+(-?\d+|\?)(.*)$")


class Event:
    def __init__(self, start, pid, name, args):
        self.start = start
        self.end = start
        self.pid = pid
        self.name = name
        self.args = args
        self.result = None
        # What follows the result: under `strace -yy` the path of a returned descriptor (`= 17</path>`).
        self.tail = ""


def parse(path):
    events = []
    pending = {}
    with open(path, errors="replace") as f:
        for index, raw in enumerate(f):
            m = LINE.match(raw.rstrip("\n"))
            if not m:
                continue
            pid, rest = m.group(1), m.group(3)
            if rest.startswith("+++") or rest.startswith("---"):
                continue
            c = CALL.match(rest)
            if c:
                e = Event(index, pid, c.group(1), c.group(2))
                e.result = c.group(3)
                e.tail = c.group(4)
                events.append(e)
                continue
            u = UNFINISHED.match(rest)
            if u:
                e = Event(index, pid, u.group(1), u.group(2))
                pending[pid] = e
                events.append(e)
                continue
            r = RESUMED.match(rest)
            if r and pid in pending:
                e = pending.pop(pid)
                e.args += r.group(2)
                e.end = index
                e.result = r.group(3)
                e.tail = r.group(4)
    return events


def send_messages(server, users, count, fanout, seed):
    """One message per connection; returns [(client port, id, recipients)] of those answered 250."""
    rng = random.Random(seed)
    sent = []
    for _ in range(count):
        client = H.SMTPClient(server.smtp_port, timeout=30)
        port = client.sock.getsockname()[1]
        client.command("EHLO audit.test")
        recipients = rng.sample(users, fanout)
        message_id, wire = H.make_message(rng, users[0], recipients, size_hint=rng.choice([300, 70000]))
        code, accepted, _ = client.transaction(users[0], recipients, wire)
        client.command("QUIT")
        client.close()
        if code == 250:
            sent.append((port, message_id, accepted))
    return sent


PATH_ARGUMENT = re.compile(r'(?:(?:AT_FDCWD|\d+<([^>]*)>),\s*)?"([^"]*)"')


def rename_paths(event):
    """(source, target) of a rename, rename(at) or renameat2 event as full paths: delivery renames relative
    to open tmp/ and new/ descriptors, which `strace -yy` shows as `5</path/tmp>`."""
    paths = []
    for directory, name in PATH_ARGUMENT.findall(event.args)[:2]:
        paths.append(os.path.join(directory, name) if directory and not name.startswith("/") else name)
    return (paths + [None, None])[:2]


OPEN_FILE = re.compile(r"^\d+<([^>]*)>")


def publication(events, final):
    """The successful rename or link that gave a copy its name `final` in new/, and the path of what it
    published (a tmp/ file, or the unnamed O_TMPFILE file linked through AT_EMPTY_PATH, which `strace -yy`
    shows as `17</.../new/#inode>(deleted)`); (None, None) when the trace has none."""
    for e in events:
        if e.result != "0":
            continue
        if e.name.startswith("rename") and rename_paths(e)[1] == final:
            return e, rename_paths(e)[0]
        if e.name == "linkat" and "AT_EMPTY_PATH" in e.args:
            targets = [os.path.join(d, n) for d, n in PATH_ARGUMENT.findall(e.args) if d and n]
            opened = OPEN_FILE.match(e.args)
            if opened and targets and targets[-1] == final:
                return e, opened.group(1)
    return None, None


def final_reply(events, port):
    """The server's 250 after its 354 on the client's connection (by client port), or None."""
    socket_tag = f"127.0.0.1:{port}]"
    on_socket = [e for e in events if e.name in ("sendto", "write", "writev", "sendmsg") and socket_tag in e.args]
    data_start = next((i for i, e in enumerate(on_socket) if '"354 ' in e.args), None)
    if data_start is None:
        return None
    return next((e for e in on_socket[data_start + 1:] if re.search(r'"(\\r\\n)?250 ', e.args)), None)


def creation(events, source, before):
    """The last successful open that created `source` (O_CREAT in tmp/, or O_TMPFILE in new/: the returned
    descriptor shows its path, `= 17</path>`, under `strace -yy`) and started before `before`; None when the
    trace has none."""
    tag = f"<{source}>"
    found = None
    for e in events:
        if e.start >= before:
            break
        if e.name in ("openat", "open") and e.result not in (None, "?") and not e.result.startswith("-") \
                and e.tail.startswith(tag) and ("O_CREAT" in e.args or "O_TMPFILE" in e.args):
            found = e
    return found


def audit(events, server, sent):
    """Returns (checked copies, violations, copies published by linking an unnamed file)."""
    violations = []
    checked = 0
    linked = 0
    for port, message_id, recipients in sent:
        reply = final_reply(events, port)
        if reply is None:
            violations.append(f"{message_id}: no 250 after 354 on client port {port} in the trace")
            continue
        published = []
        for user in recipients:
            maildir = server.maildir(user)
            names = []
            for sub in ("new", "cur"):
                directory = os.path.join(maildir, sub)
                for name in os.listdir(directory) if os.path.isdir(directory) else []:
                    if H.check_file(os.path.join(directory, name))[0] == message_id:
                        names.append(name.split(":")[0])
            if len(names) != 1:
                violations.append(f"{message_id} for {user}: {len(names)} copies on disk")
                continue
            checked += 1
            final = os.path.join(maildir, "new", names[0])
            rename, source = publication(events, final)
            if rename is None:
                violations.append(f"{message_id} for {user}: no rename or link into {final} in the trace")
                continue
            file_sync = [e for e in events if e.name in ("fsync", "fdatasync") and f"<{source}>" in e.args
                         and e.result == "0" and e.end < rename.start]
            directory_sync = [e for e in events if e.name in ("fsync", "fdatasync")
                              and f"<{os.path.join(maildir, 'new')}>" in e.args and e.result == "0"
                              and e.start > rename.end]
            if not file_sync:
                violations.append(f"{message_id} for {user}: no fsync of {source} before its rename")
            if not directory_sync or directory_sync[0].end > reply.start:
                violations.append(f"{message_id} for {user}: no fsync of {maildir}/new between the rename and the 250")
            if rename.end > reply.start:
                violations.append(f"{message_id} for {user}: rename after the 250")
            if rename.name == "linkat":
                linked += 1
            published.append((user, rename, source))
        # All or nothing: no copy of the message visible before every copy is on stable storage.
        if published:
            first_visible = min(rename.start for _, rename, _ in published)
            for user, rename, source in published:
                created = creation(events, source, rename.start)
                synced = [e for e in events if e.name in ("fsync", "fdatasync") and f"<{source}>" in e.args
                          and e.result == "0" and e.end < first_visible
                          and (created is None or e.start > created.end)]
                if created is None:
                    violations.append(f"{message_id} for {user}: no open of {source} in the trace")
                if not synced:
                    violations.append(f"{message_id} for {user}: {source} not fsync'd before the message's first "
                                      "copy became visible")
    return checked, violations, linked


def send_remote_messages(server, sender, count, seed):
    """One message per connection to a remote recipient (relayed through the queue); returns
    [(client port, id)] of those answered 250."""
    rng = random.Random(seed)
    sent = []
    for index in range(count):
        client = H.SMTPClient(server.smtp_port, timeout=30)
        port = client.sock.getsockname()[1]
        client.command("EHLO audit.test")
        recipient = f"r{index}@remote.test"
        message_id, wire = H.make_message(rng, sender, [recipient], size_hint=rng.choice([300, 70000]))
        code, _, _ = client.transaction(sender, [recipient], wire)
        client.command("QUIT")
        client.close()
        if code == 250:
            sent.append((port, message_id))
    return sent


def audit_queue(events, server, sent):
    """The queue's commit for every relayed message answered 250. Returns (checked, violations)."""
    violations = []
    checked = 0
    messages_directory = os.path.join(server.data, "queue", "messages")
    # The relayhost never answers, so every message is still queued: find each one's file by its id.
    files = {}
    for name in os.listdir(messages_directory):
        with open(os.path.join(messages_directory, name), "rb") as f:
            content = f.read()
        match = re.search(rb"X-Torture-Id: *([0-9a-f]+)", content)
        if match:
            files[match.group(1).decode()] = os.path.join(messages_directory, name)
    for port, message_id in sent:
        reply = final_reply(events, port)
        if reply is None:
            violations.append(f"{message_id}: no 250 after 354 on client port {port} in the trace")
            continue
        final = files.get(message_id)
        if final is None:
            violations.append(f"{message_id}: not in {messages_directory}")
            continue
        checked += 1
        rename = next((e for e in events if e.name.startswith("rename") and e.result == "0"
                       and rename_paths(e)[1] == final), None)
        if rename is None:
            violations.append(f"{message_id}: no rename into {final} in the trace")
            continue
        source = rename_paths(rename)[0]
        file_sync = [e for e in events if e.name in ("fsync", "fdatasync") and f"<{source}>" in e.args
                     and e.result == "0" and e.end < rename.start]
        directory_sync = [e for e in events if e.name in ("fsync", "fdatasync") and f"<{messages_directory}>" in e.args
                          and e.result == "0" and e.start > rename.end]
        if not file_sync:
            violations.append(f"{message_id}: no fsync of {source} before its rename")
        if not directory_sync or directory_sync[0].end > reply.start:
            violations.append(f"{message_id}: no fsync of {messages_directory} between the rename and the 250")
        if rename.end > reply.start:
            violations.append(f"{message_id}: rename after the 250")
    return checked, violations


def run_queue(binary, eatmydata, args):
    """Relays messages to a relayhost that never answers (a closed loopback port), under strace."""
    data = H.temporary_directory("po-strace-queue-")
    trace = os.path.join(data, "strace.out")
    users = H.user_names(1)
    with open(os.path.join(data, "postoffice.conf"), "w") as f:
        f.write(f"relay_networks = 127.0.0.0/8\ndeliver_outbound = yes\nrelayhost = 127.0.0.2:{H.free_port()}\n"
                "queue_run_interval = 3600\ndns_servers = 127.0.0.1:1\n")
    wrapper = ["strace", "-f", "-tt", "-yy", "-s", "120", "-e", f"trace={SYSCALLS}", "-o", trace]
    if eatmydata:
        wrapper.append("eatmydata")
    server = H.Server(binary, data, users, wrapper=wrapper)
    server.start(timeout=60)
    sent = send_remote_messages(server, users[0], args.messages, args.seed)
    server.stop()
    time.sleep(0.2)
    events = parse(trace)
    checked, violations = audit_queue(events, server, sent)
    if args.keep:
        print(f"queue trace kept in {trace}")
    else:
        H.remove_tree(data)
    return len(sent), checked, violations


def run(binary, eatmydata, args, fanout=None):
    data = H.temporary_directory("po-strace-")
    trace = os.path.join(data, "strace.out")
    users = H.user_names(max(6, fanout or args.fanout))
    wrapper = ["strace", "-f", "-tt", "-yy", "-s", "120", "-e", f"trace={SYSCALLS}", "-o", trace]
    if eatmydata:
        wrapper.append("eatmydata")
    server = H.Server(binary, data, users, wrapper=wrapper)
    server.start(timeout=60)
    sent = send_messages(server, users, args.messages, fanout or args.fanout, args.seed)
    server.stop()
    time.sleep(0.2)
    events = parse(trace)
    checked, violations, linked = audit(events, server, sent)
    fsyncs = sum(1 for e in events if e.name in ("fsync", "fdatasync"))
    if args.keep:
        print(f"trace kept in {trace}")
    else:
        H.remove_tree(data)
    return len(sent), checked, fsyncs, violations, linked


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", default=H.DEFAULT_BINARY)
    parser.add_argument("--messages", type=int, default=6)
    parser.add_argument("--fanout", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-control", action="store_true", help="skip the eatmydata negative control")
    parser.add_argument("--eatmydata", action="store_true", help="only the negative control (expected to fail)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    H.require_binary(args.binary)
    if not shutil.which("strace"):
        sys.exit("strace not installed")
    status = 0
    if not args.eatmydata:
        sent, checked, fsyncs, violations, linked = run(args.binary, False, args)
        print(f"audit ({args.fanout} recipients: unnamed copies linked into new/): {sent} messages answered 250, "
              f"{checked} copies checked, {linked} of them linked from unnamed files, {fsyncs} fsyncs traced, "
              f"{len(violations)} violations")
        for v in violations[:20]:
            print("  VIOLATION " + v)
        if violations or checked == 0:
            status = 1
        several_linked = linked
        sent, checked, fsyncs, violations, linked = run(args.binary, False, args, fanout=1)
        print(f"one-recipient audit (unnamed drafts linked into new/): {sent} messages answered 250, "
              f"{checked} copies checked, {linked} linked from unnamed files, {fsyncs} fsyncs traced, "
              f"{len(violations)} violations")
        for v in violations[:20]:
            print("  VIOLATION " + v)
        if violations or checked == 0:
            status = 1
        # Where O_TMPFILE works (the one-recipient run linked), the several-recipient run must have audited
        # unnamed copies too, or the unnamed fan-out went unchecked.
        if linked and several_linked == 0:
            print("  VIOLATION: the several-recipient run published no copy by linking an unnamed file")
            status = 1
        elif linked == 0:
            print("  note: no unnamed files on this file system (no O_TMPFILE); the tmp/ protocol was audited")
        sent, checked, fsyncs, violations, linked = run(args.binary, False, args, fanout=17)
        print(f"above-the-limit audit (17 recipients: copies through tmp/): {sent} messages answered 250, "
              f"{checked} copies checked, {linked} linked from unnamed files, {fsyncs} fsyncs traced, "
              f"{len(violations)} violations")
        for v in violations[:20]:
            print("  VIOLATION " + v)
        if violations or checked == 0:
            status = 1
        sent, checked, violations = run_queue(args.binary, False, args)
        print(f"queue audit: {sent} relayed messages answered 250, {checked} queue files checked, "
              f"{len(violations)} violations")
        for v in violations[:20]:
            print("  VIOLATION " + v)
        if violations or checked == 0:
            status = 1
    if args.eatmydata or not args.no_control:
        if not shutil.which("eatmydata"):
            print("negative control skipped: eatmydata not installed (apt-get install -y eatmydata)")
        else:
            sent, checked, fsyncs, violations, _ = run(args.binary, True, args)
            caught = bool(violations)
            print(f"negative control (eatmydata): {sent} answered 250, {fsyncs} fsyncs traced, {len(violations)} "
                  f"violations -> {'caught' if caught else 'NOT CAUGHT'}")
            for v in violations[:3]:
                print("  expected: " + v)
            sent, checked, fsyncs, violations, _ = run(args.binary, True, args, fanout=1)
            single_caught = bool(violations)
            print(f"one-recipient negative control (eatmydata): {sent} answered 250, {fsyncs} fsyncs traced, "
                  f"{len(violations)} violations -> {'caught' if single_caught else 'NOT CAUGHT'}")
            for v in violations[:3]:
                print("  expected: " + v)
            caught = caught and single_caught
            if args.eatmydata:
                status = 1 if caught else 0
            elif not caught:
                status = 1
            sent, checked, violations = run_queue(args.binary, True, args)
            queue_caught = bool(violations)
            print(f"queue negative control (eatmydata): {sent} answered 250, {len(violations)} violations -> "
                  f"{'caught' if queue_caught else 'NOT CAUGHT'}")
            for v in violations[:3]:
                print("  expected: " + v)
            if args.eatmydata:
                status = 1 if (caught and queue_caught) else 0
            elif not queue_caught:
                status = 1
    sys.exit(status)


if __name__ == "__main__":
    main()
