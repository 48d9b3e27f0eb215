# poharness: shared pieces of the reliability harnesses — start/stop the `postoffice` binary on free ports,
# add users, a small blocking SMTP/POP3 client, self-verifying test messages, and a Maildir scanner that
# checks each stored file against the body hash it carries.

import hashlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_BINARY = os.path.join(REPO, ".build", "debug", "postoffice")
DOMAIN = "example.test"
PASSWORD = "torture-pass"
ID_HEADER = "X-Torture-Id"
HASH_HEADER = "X-Torture-Hash"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(p / 100.0 * (len(ordered) - 1)))))
    return ordered[index]


class Server:
    """One `postoffice` process on fixed ports over a data folder; restartable."""

    def __init__(self, binary, data, users, wrapper=None, log_path=None, env=None):
        self.binary = binary
        self.data = data
        self.users = users
        self.wrapper = wrapper or []
        self.log_path = log_path or os.path.join(data, "server.log")
        self.env = env
        self.smtp_port = free_port()
        self.pop3_port = free_port()
        self.process = None
        self.last_listen_seconds = None
        os.makedirs(data, exist_ok=True)
        config = os.path.join(data, "postoffice.conf")
        if not os.path.exists(config):
            # deliver_outbound is on by default in the binary: a harness never asks the machine's DNS servers
            # (a variant that relays writes its own config, with its own dns_servers).
            with open(config, "w") as f:
                f.write("dns_servers = 127.0.0.1:1\n")
        for user in users:
            run = subprocess.run(
                [binary, "user", "add", user, "--password-stdin", "--data", data],
                input=PASSWORD + "\n", capture_output=True, text=True)
            if run.returncode != 0 and "exists" not in (run.stderr + run.stdout):
                raise RuntimeError(f"user add {user}: {run.stderr.strip()}")

    @property
    def mail_root(self):
        return os.path.join(self.data, "mail")

    def maildir(self, user):
        local, domain = user.split("@")
        return os.path.join(self.mail_root, domain, local)

    def start(self, timeout=30):
        """Starts the server; returns seconds until the SMTP port accepts a connection."""
        log = open(self.log_path, "ab")
        command = self.wrapper + [self.binary, "--data", self.data, "--domain", DOMAIN,
                                  "--smtp", f"127.0.0.1:{self.smtp_port}", "--pop3", f"127.0.0.1:{self.pop3_port}",
                                  "--submission", "127.0.0.1:0"]
        offset = log.tell()
        began = time.monotonic()
        spawned = time.time()
        self.process = subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=self.env)
        log.close()
        while time.monotonic() - began < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.smtp_port), timeout=0.5):
                    accepted = time.monotonic() - began
                    self.last_listen_seconds = self._listening_time(offset, spawned)
                    return accepted
            except OSError:
                time.sleep(0.002)
        raise RuntimeError("server did not start listening")

    def _listening_time(self, offset, spawned):
        """Seconds from spawn to the server's own `server.listening` log line (ms resolution), or None.
        Unlike the client's view this does not include the harness's own scheduling delays."""
        import datetime
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            for line in f.read().decode("latin-1").splitlines():
                match = re.match(r"ts=(\S+)Z .*event=server.listening protocol=smtp", line)
                if match:
                    stamp = datetime.datetime.fromisoformat(match.group(1)).replace(tzinfo=datetime.timezone.utc)
                    return stamp.timestamp() - spawned
        return None

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def descendants(self):
        """Process ids below ours (the real server when a wrapper such as strace started it)."""
        found, queue = [], [self.process.pid] if self.process else []
        while queue:
            pid = queue.pop()
            for task in os.listdir(f"/proc/{pid}/task") if os.path.isdir(f"/proc/{pid}/task") else []:
                try:
                    with open(f"/proc/{pid}/task/{task}/children") as f:
                        children = [int(x) for x in f.read().split()]
                except OSError:
                    children = []
                found += children
                queue += children
        return found

    def stop(self):
        if self.wrapper and self.process and self.process.poll() is None:
            # A tracer would detach and leave the server running: stop the server itself first.
            for pid in self.descendants():
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self):
        return self.process is not None and self.process.poll() is None


class ProtocolError(Exception):
    pass


class LineSocket:
    def __init__(self, port, timeout=10.0, source=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        self.buffer = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ProtocolError("connection closed")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.rstrip(b"\r").decode("latin-1")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class SMTPClient(LineSocket):
    def __init__(self, port, timeout=10.0, source=None):
        super().__init__(port, timeout, source)
        code, _ = self.reply()
        if code != 220:
            raise ProtocolError(f"greeting {code}")

    def reply(self):
        lines = []
        while True:
            line = self.line()
            if len(line) < 3 or not line[:3].isdigit():
                raise ProtocolError(f"bad reply {line!r}")
            lines.append(line[4:])
            if len(line) == 3 or line[3] == " ":
                return int(line[:3]), lines

    def command(self, text):
        self.last_command = text.split(" ")[0].split(":")[0]
        self.send(text.encode("latin-1") + b"\r\n")
        return self.reply()

    def transaction(self, sender, recipients, wire_body):
        """MAIL/RCPT/DATA; returns (final code, accepted recipients). Raises on connection loss."""
        code, text = self.command(f"MAIL FROM:<{sender}>")
        if code != 250:
            return code, [], text
        accepted = []
        for recipient in recipients:
            code, _ = self.command(f"RCPT TO:<{recipient}>")
            if code == 250:
                accepted.append(recipient)
        if not accepted:
            code, text = self.command("RSET")
            return (code if code != 250 else 0), [], text
        code, text = self.command("DATA")
        if code != 354:
            return code, [], text
        self.last_command = "end of data"
        self.send(wire_body)
        code, text = self.reply()
        return code, accepted, text


class POP3Client(LineSocket):
    def __init__(self, port, timeout=10.0):
        super().__init__(port, timeout)
        if not self.line().startswith("+OK"):
            raise ProtocolError("pop3 greeting")

    def command(self, text):
        self.send(text.encode("latin-1") + b"\r\n")
        return self.line()

    def multiline(self):
        lines = []
        while True:
            line = self.line()
            if line == ".":
                return lines
            lines.append(line[1:] if line.startswith("..") else line)

    def login(self, user, password=PASSWORD):
        if not self.command(f"USER {user}").startswith("+OK"):
            raise ProtocolError("USER")
        answer = self.command(f"PASS {password}")
        if not answer.startswith("+OK"):
            raise ProtocolError(f"PASS: {answer}")


def make_message(rng, sender, recipients, size_hint=None):
    """A self-verifying message: returns (id, wire bytes for DATA incl. final dot)."""
    message_id = uuid.UUID(int=rng.getrandbits(128)).hex
    size = size_hint if size_hint is not None else rng.choice([200, 1000, 4000, 20000, 120000])
    lines = []
    total = 0
    while total < size:
        length = rng.randint(0, 76)
        text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 .-") for _ in range(length))
        lines.append(text)
        total += length + 1
    return message_id, _wire_message(message_id, sender, recipients, lines)


def _wire_message(message_id, sender, recipients, lines):
    """The DATA bytes (dot-stuffed, with the final dot) of a message whose headers carry its id and body hash."""
    body = "\n".join(lines) + "\n"
    digest = hashlib.sha256(body.encode()).hexdigest()
    headers = [f"From: <{sender}>", f"To: {', '.join('<' + r + '>' for r in recipients)}",
               f"Subject: torture {message_id}", f"Message-ID: <{message_id}@torture>",
               f"{ID_HEADER}: {message_id}", f"{HASH_HEADER}: {digest}"]
    wire = bytearray()
    for line in headers + [""] + lines:
        if line.startswith("."):
            wire += b"."
        wire += line.encode() + b"\r\n"
    wire += b".\r\n"
    return bytes(wire)


HEADER_RE = re.compile(rb"^(X-Torture-Id|X-Torture-Hash): *([0-9a-f]+)\s*$", re.M | re.I)


def check_file(path):
    """Returns (id or None, intact?) for one stored file."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None, True
    head, separator, body = data.partition(b"\n\n")
    fields = {k.decode().lower(): v.decode() for k, v in HEADER_RE.findall(head)}
    message_id = fields.get(ID_HEADER.lower())
    digest = fields.get(HASH_HEADER.lower())
    if not separator or message_id is None or digest is None:
        return message_id, False
    return message_id, hashlib.sha256(body).hexdigest() == digest


def scan_maildir(path):
    """Scans new/ and cur/: returns ({id: count}, partial file paths, tmp/ file names)."""
    counts = {}
    partial = []
    for sub in ("new", "cur"):
        directory = os.path.join(path, sub)
        for name in os.listdir(directory) if os.path.isdir(directory) else []:
            if name.startswith("."):
                continue
            message_id, intact = check_file(os.path.join(directory, name))
            if not intact:
                partial.append(os.path.join(directory, name))
            if message_id is not None and intact:
                counts[message_id] = counts.get(message_id, 0) + 1
    tmp = os.path.join(path, "tmp")
    orphans = [n for n in os.listdir(tmp)] if os.path.isdir(tmp) else []
    return counts, partial, orphans


def find_tool(name):
    """A command on PATH or in the sbin directories (where Postfix keeps smtp-sink)."""
    import shutil
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not found:
        raise RuntimeError(f"{name} not found (install it; .ci/run lists the packages)")
    return found


def require_binary(binary):
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"{binary} not found: run `swift build --product postoffice` first")


def temporary_directory(prefix, root=None):
    return tempfile.mkdtemp(prefix=prefix, dir=root)


def remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)


def user_names(count):
    return [f"u{i:02d}@{DOMAIN}" for i in range(count)]


def new_rng(seed):
    return random.Random(seed)


_TEXT_ALPHABET = b"abcdefghijklmnopqrstuvwxyz0123456789 .-"
_BYTE_TO_TEXT = bytes(_TEXT_ALPHABET[i % len(_TEXT_ALPHABET)] for i in range(256))


def make_message_quickly(rng, sender, recipients, size_hint=None):
    """make_message's format and sizes, with the text drawn in bulk (randbytes) rather than a character at a
    time, so a long-running load can send tens of messages a second without the generator eating the CPU."""
    message_id = uuid.UUID(int=rng.getrandbits(128)).hex
    size = size_hint if size_hint is not None else rng.choice([200, 1000, 4000, 20000, 120000])
    text = rng.randbytes(size + 77).translate(_BYTE_TO_TEXT).decode()
    lines = []
    total = 0
    while total < size:
        length = rng.randint(0, 76)
        lines.append(text[total:total + length])
        total += length + 1
    return message_id, _wire_message(message_id, sender, recipients, lines)
