"""Shared helpers for the epmdnsd integration tests.

Everything here talks to real things: the epmdnsd binary named by $EPMDNSD,
knotd, dig and kdig, over loopback sockets only. Every wait is bounded and
every process started here is stopped through the cleanup callback given.
"""

import base64
import hashlib
import hmac
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.update
import dns.wire

INTEGRATION_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE_DIR = os.environ.get("EPMDNS_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(INTEGRATION_DIR))
BUNDLED_ZONE = os.path.join(SOURCE_DIR, "zones", "erl.internal.zone")
RULES_ZONE = os.path.join(INTEGRATION_DIR, "zones", "rules.test.zone")
BUNDLED_ORIGIN = "erl.internal."
RULES_ORIGIN = "rules.test."

START_TIMEOUT = 10.0  # seconds to wait for a server to answer its first SOA
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL
QUERY_TIMEOUT = 3.0  # seconds for one query
READY_LINE = "epmdnsd: ready"


class HarnessError(AssertionError):
    """A precondition of the test environment is not met (fails the test)."""


# --------------------------------------------------------------------------
# Tools and binaries

def require_tool(name):
    path = shutil.which(name) or (
        "/usr/sbin/" + name if os.access("/usr/sbin/" + name, os.X_OK) else None)
    if not path:
        raise HarnessError(f"required tool {name!r} not found on PATH or in /usr/sbin "
                           "(run scripts/setup.sh)")
    return path


EPMD_PORT = 4369


def epmd_listening():
    """Whether anything accepts TCP connections on 127.0.0.1:4369 (EPMD's port)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(("127.0.0.1", EPMD_PORT))
        return True
    except OSError:
        return False
    finally:
        s.close()


def epmdnsd_path():
    path = os.environ.get("EPMDNSD")
    if not path:
        raise HarnessError("EPMDNSD is not set: point it at the epmdnsd binary "
                           "(ctest sets it to build/server/epmdnsd)")
    if not os.access(path, os.X_OK):
        raise HarnessError(f"EPMDNSD={path} is not an executable file")
    return path


def temp_dir(cleanup, prefix="epmdns-it-"):
    path = tempfile.mkdtemp(prefix=prefix)
    cleanup(shutil.rmtree, path, True)
    return path


def zone_dir(cleanup, *zone_files):
    """A fresh directory holding copies of zone_files (named ORIGIN.zone)."""
    path = temp_dir(cleanup, "epmdns-zones-")
    for f in zone_files:
        shutil.copy(f, os.path.join(path, os.path.basename(f)))
    return path


# --------------------------------------------------------------------------
# Ports

def free_port(hosts=("127.0.0.1",), attempts=50):
    """A port that is free for both UDP and TCP on every host in hosts."""
    for _ in range(attempts):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        socks = []
        try:
            for host in hosts:
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(family, kind)
                    socks.append(s)
                    if kind == socket.SOCK_STREAM:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise HarnessError(f"no free UDP+TCP port on {hosts} after {attempts} attempts")


def listen_arg(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --------------------------------------------------------------------------
# Processes

class Process:
    """A server process whose stderr (and stdout) go to files in a temp dir."""

    def __init__(self, name, argv, workdir, env=None):
        self.name = name
        self.argv = argv
        self.stdout_path = os.path.join(workdir, name + ".stdout")
        self.stderr_path = os.path.join(workdir, name + ".stderr")
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, env=env)
        self.returncode = None

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stderr(self):
        with open(self.stderr_path, "r", errors="replace") as f:
            return f.read()

    def stdout(self):
        with open(self.stdout_path, "r", errors="replace") as f:
            return f.read()

    def describe(self):
        return (f"{self.name} ({' '.join(self.argv)}) exit={self.proc.poll()}\n"
                f"--- stderr ---\n{self.stderr()}--- stdout ---\n{self.stdout()}")

    def stop(self, sig=signal.SIGTERM):
        """Signal the process, SIGKILL it after STOP_TIMEOUT; returns exit code."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
                self.returncode = self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
                self.returncode = "killed after no exit within %ss of %s" % (
                    STOP_TIMEOUT, signal.Signals(sig).name)
        else:
            self.returncode = self.proc.returncode
        return self.returncode


class Server(Process):
    """A DNS server process listening on (host, port) pairs."""

    def __init__(self, name, argv, workdir, addrs):
        super().__init__(name, argv, workdir)
        self.addrs = addrs  # [(host, port)]

    @property
    def host(self):
        return self.addrs[0][0]

    @property
    def port(self):
        return self.addrs[0][1]

    def wait_answers_soa(self, zone, timeout=START_TIMEOUT):
        """Wait until every address answers SOA for zone, failing early on exit."""
        deadline = time.monotonic() + timeout
        pending = list(self.addrs)
        last_error = None
        probe_timeout = 0.02  # grows to 0.2 s: quick while the server is binding
        while pending:
            if not self.alive():
                raise HarnessError(f"{self.name} exited before answering:\n"
                                   + self.describe())
            if time.monotonic() > deadline:
                raise HarnessError(f"{self.name} did not answer SOA {zone} on "
                                   f"{pending} within {timeout}s (last: {last_error})\n"
                                   + self.describe())
            host, port = pending[0]
            try:
                r = dns.query.udp(make_query(zone, "SOA"), host, port=port,
                                  timeout=probe_timeout)
                if r.rcode() == dns.rcode.NOERROR and r.answer:
                    pending.pop(0)
                    continue
                last_error = "rcode %s" % dns.rcode.to_text(r.rcode())
            except (dns.exception.Timeout, OSError) as e:
                last_error = repr(e)
                probe_timeout = min(0.2, probe_timeout * 2)
            time.sleep(0.01)


def wait_until(predicate, timeout, interval=0.1):
    """Poll predicate() until it is true or timeout seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def start_on_free_port(hosts, launch, attempts=3):
    """launch(port) -> started Server, on a fresh free port; if another process
    took the port between our probe and the server's bind, try a new port."""
    for attempt in range(attempts):
        try:
            return launch(free_port(hosts))
        except HarnessError as e:
            if "in use" not in str(e).lower() or attempt == attempts - 1:
                raise


def start_epmdnsd(cleanup, args=(), hosts=("127.0.0.1",), zones=None,
                  ready_zone=BUNDLED_ORIGIN, wrapper=()):
    """Start epmdnsd listening on every host at one free port.

    zones: a --zones path (None: the built-in zone). Extra flags go in args.
    wrapper: a command that execs the rest of argv (e.g. prlimit --fsize=N).
    Returns a Server once it answers SOA ready_zone on every address.
    """
    binary = epmdnsd_path()

    def launch(port):
        argv = list(wrapper) + [binary]
        for h in hosts:
            argv += ["--listen", listen_arg(h, port)]
        if zones is not None:
            argv += ["--zones", zones]
        argv += list(args)
        workdir = temp_dir(cleanup, "epmdnsd-run-")
        server = Server("epmdnsd", argv, workdir, [(h, port) for h in hosts])
        cleanup(server.stop)
        server.launch = dict(args=tuple(args), hosts=hosts, zones=zones,
                             ready_zone=ready_zone, wrapper=tuple(wrapper))
        server.wait_answers_soa(ready_zone)
        return server
    return start_on_free_port(hosts, launch)


def restart_epmdnsd(cleanup, server, sig=signal.SIGTERM, **changes):
    """Stop server with sig (SIGKILL: a crash) and start it again with the same
    flags (and state directory) on a fresh port; changes override
    start_epmdnsd's arguments. Returns (new server, exit code of the old)."""
    code = server.stop(sig)
    launch = dict(server.launch)
    launch.update(changes)
    new = start_epmdnsd(cleanup, **launch)
    new.state_dir = getattr(server, "state_dir", None)
    return new, code


def start_epmdnsd_updating(cleanup, keys=(), policy=None, state_dir=None, args=(), **kw):
    """start_epmdnsd with updates on: a fresh --state-dir (unless given), keys
    (TsigKey) written to a --keys file, policy (lines) to an --update-policy file.
    The server's state_dir attribute names the state directory."""
    workdir = temp_dir(cleanup, "epmdnsd-update-")
    state_dir = state_dir or os.path.join(workdir, "state")
    flags = ["--state-dir", state_dir]
    if keys:
        flags += ["--keys", write_key_file(os.path.join(workdir, "keys.conf"), keys)]
    if policy is not None:
        path = os.path.join(workdir, "update-policy")
        with open(path, "w") as f:
            f.write("".join(line + "\n" for line in policy))
        flags += ["--update-policy", path]
    server = start_epmdnsd(cleanup, args=flags + list(args), **kw)
    server.state_dir = state_dir
    return server


KNOT_CONF = """\
server:
    rundir: "{rundir}"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
    identity: ""
    version: ""
    nsid: ""
database:
    storage: "{storage}"
log:
  - target: stderr
    any: warning
{access}template:
  - id: default
    storage: "{storage}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: on
{template_acl}zone:
{zones}"""


def knot_access_text(update_keys):
    """Knot's key: and acl: sections letting update_keys (TsigKey) send UPDATEs."""
    if not update_keys:
        return "", ""
    text = "key:\n"
    for key in update_keys:
        text += (f"  - id: {key.name}\n    algorithm: {key.algorithm}\n"
                 f"    secret: {key.secret_b64}\n")
    text += "acl:\n  - id: update\n    key: [%s]\n    action: update\n" % ", ".join(
        key.name for key in update_keys)
    return text, "    acl: [update]\n"


def start_knotd(cleanup, zones, update_keys=()):
    """Run knotd in the foreground serving zones [(origin, file)] on 127.0.0.1.

    Knot never writes the zone files: zonefile-sync -1, no journal. With
    update_keys (TsigKey), UPDATEs signed with any of them are accepted for
    every zone; changes then live in Knot's memory only.
    """
    knotd = require_tool("knotd")
    zone_text = "".join(f"  - domain: {origin}\n    file: \"{path}\"\n"
                        for origin, path in zones)
    access, template_acl = knot_access_text(update_keys)

    def launch(port):
        workdir = temp_dir(cleanup, "knotd-run-")
        rundir = os.path.join(workdir, "run")
        storage = os.path.join(workdir, "storage")
        os.makedirs(rundir)
        os.makedirs(storage)
        conf = os.path.join(workdir, "knot.conf")
        with open(conf, "w") as f:
            f.write(KNOT_CONF.format(rundir=rundir, port=port, storage=storage,
                                     zones=zone_text, access=access,
                                     template_acl=template_acl))
        server = Server("knotd", [knotd, "-c", conf], workdir, [("127.0.0.1", port)])
        cleanup(server.stop)
        for origin, _ in zones:
            server.wait_answers_soa(origin)
        return server
    return start_on_free_port(("127.0.0.1",), launch)


def run_epmdnsd_to_exit(args, timeout=10.0, cwd=None):
    """Run epmdnsd expecting it to exit by itself (bad flags, broken zones).

    Returns CompletedProcess with text stdout/stderr; if it is still running
    after timeout it is killed and HarnessError is raised with its output.
    """
    argv = [epmdnsd_path()] + list(args)
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, errors="replace", timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise HarnessError(f"{' '.join(argv)} was still running after {timeout}s "
                           f"(expected it to exit); stderr:\n{e.stderr!r}")


# --------------------------------------------------------------------------
# dnspython queries

def make_query(name, rdtype, edns=0, payload=1232, rd=True, qid=None):
    """A query message; edns=-1 sends no OPT record."""
    q = dns.message.make_query(name, rdtype)
    # use_edns(1) directly: make_query's use_edns=1 means True, i.e. version 0.
    q.use_edns(edns if edns >= 0 else False, payload=payload)
    if not rd:
        q.flags &= ~dns.flags.RD
    if qid is not None:
        q.id = qid
    return q


def udp_query(server_or_host, q, port=None, timeout=QUERY_TIMEOUT):
    host, port = _addr(server_or_host, port)
    return dns.query.udp(q, host, port=port, timeout=timeout, ignore_trailing=False)


def tcp_query(server_or_host, q, port=None, timeout=QUERY_TIMEOUT):
    host, port = _addr(server_or_host, port)
    return dns.query.tcp(q, host, port=port, timeout=timeout)


def udp_query_wire(server_or_host, q, port=None, timeout=QUERY_TIMEOUT):
    """Like udp_query, but returns (parsed response, raw wire bytes)."""
    wire = udp_exchange(server_or_host, q.to_wire(), port, timeout)
    if wire is None:
        raise HarnessError(f"no UDP answer to {q.question[0]}")
    return dns.message.from_wire(wire), wire


def _addr(server_or_host, port):
    if isinstance(server_or_host, Server):
        return server_or_host.host, server_or_host.port
    return server_or_host, port


def rrset_texts(section):
    """Set of (lowercase owner, ttl, type, canonical rdata text) of a section."""
    out = set()
    for rrset in section:
        for rd in rrset:
            out.add((rrset.name.to_text().lower(), rrset.ttl,
                     dns.rdatatype.to_text(rrset.rdtype), rdata_key(rd)))
    return out


def rdata_key(rd):
    """Canonical text of one rdata: names lowercased (RFC 4034 6.2), text kept."""
    canon = dns.rdata.from_wire(rd.rdclass, rd.rdtype, rd.to_digestable(), 0,
                                len(rd.to_digestable()))
    return canon.to_text()


def rr(owner, ttl, rdtype, rdata):
    """An expected record in the form rrset_texts returns."""
    rd = dns.rdata.from_text(dns.rdataclass.IN, rdtype, rdata)
    return (owner.lower(), ttl, rdtype, rdata_key(rd))


# --------------------------------------------------------------------------
# Raw sockets

def udp_socket(host, timeout=QUERY_TIMEOUT):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    return s


def udp_exchange(server_or_host, wire, port=None, timeout=QUERY_TIMEOUT):
    """Send one datagram, return the first reply or None after timeout."""
    host, port = _addr(server_or_host, port)
    with udp_socket(host, timeout) as s:
        s.sendto(wire, (host, port))
        try:
            return s.recvfrom(65535)[0]
        except socket.timeout:
            return None


def tcp_connect(server_or_host, port=None, timeout=QUERY_TIMEOUT):
    host, port = _addr(server_or_host, port)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def tcp_frame(wire):
    return struct.pack("!H", len(wire)) + wire


def recv_exact(sock, n):
    """n bytes, or the shorter data read before EOF."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def tcp_recv_msg(sock):
    """One length-prefixed message; None on a clean EOF before it."""
    prefix = recv_exact(sock, 2)
    if not prefix:
        return None
    if len(prefix) < 2:
        raise HarnessError("connection closed inside a TCP length prefix")
    (length,) = struct.unpack("!H", prefix)
    body = recv_exact(sock, length)
    if len(body) != length:
        raise HarnessError(f"connection closed after {len(body)} of {length} bytes")
    return body


def tcp_exchange(server_or_host, wire, port=None, timeout=QUERY_TIMEOUT):
    with tcp_connect(server_or_host, port, timeout) as s:
        s.sendall(tcp_frame(wire))
        return tcp_recv_msg(s)


class Header:
    """The fixed 12-byte DNS header of a raw message."""

    def __init__(self, wire):
        if len(wire) < 12:
            raise HarnessError(f"reply of {len(wire)} bytes is shorter than a header")
        (self.id, flags, self.qdcount, self.ancount, self.nscount,
         self.arcount) = struct.unpack("!6H", wire[:12])
        self.qr = bool(flags & 0x8000)
        self.opcode = (flags >> 11) & 0xF
        self.aa = bool(flags & 0x0400)
        self.tc = bool(flags & 0x0200)
        self.rd = bool(flags & 0x0100)
        self.rcode = flags & 0xF

    def __repr__(self):
        return (f"Header(id={self.id}, qr={self.qr}, opcode={self.opcode}, "
                f"aa={self.aa}, tc={self.tc}, rcode={dns.rcode.to_text(self.rcode)}, "
                f"counts={self.qdcount}/{self.ancount}/{self.nscount}/{self.arcount})")


def raw_header(qid, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!6H", qid, flags, qd, an, ns, ar)


def wire_name(name):
    """Uncompressed wire form of a dotted name."""
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def raw_question(name, qtype=1, qclass=1):
    return wire_name(name) + struct.pack("!HH", qtype, qclass)


OPT_RR = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)  # root, OPT, size, ttl, rdlen


def random_qid(rng=random):
    return rng.randrange(1, 0x10000)


# --------------------------------------------------------------------------
# dig and kdig

class ToolResponse:
    """A DNS response as printed by dig or kdig, parsed back into values."""

    def __init__(self, text):
        self.text = text
        self.status = None
        self.flags = set()
        self.qid = None
        self.question = []  # [(name as printed, class, type)]
        self.answer, self.authority, self.additional = [], [], []
        self.edns = None  # {"version": int, "udp": int} when an OPT was printed
        self.size = None


_SECTIONS = {"QUESTION": "question", "ANSWER": "answer", "AUTHORITY": "authority",
             "ADDITIONAL": "additional"}


def parse_tool_output(text):
    """Parse dig or kdig output (one response) into a ToolResponse."""
    r = ToolResponse(text)
    section = None
    for line in text.splitlines():
        stripped = line.strip()
        m = re.search(r"->>HEADER<<- opcode: \w+[,;] status: (\w+)[,;] id: (\d+)", line)
        if m:
            r.status, r.qid = m.group(1), int(m.group(2))
            continue
        m = re.match(r";; [Ff]lags:([^;]*);", line)
        if m:
            r.flags = set(m.group(1).split())
            continue
        m = re.search(r"EDNS: version: (\d+), flags:[^;]*; udp: (\d+)", line)  # dig
        if m:
            r.edns = {"version": int(m.group(1)), "udp": int(m.group(2))}
            continue
        m = re.match(r";; Version: (\d+); flags:[^;]*; UDP size: (\d+) B", line)  # kdig
        if m:
            r.edns = {"version": int(m.group(1)), "udp": int(m.group(2))}
            continue
        m = re.search(r"(?:MSG SIZE\s+rcvd: (\d+))|(?:^;; Received (\d+) B)", line)
        if m:
            r.size = int(m.group(1) or m.group(2))
            section = None
            continue
        m = re.match(r";; (QUESTION|ANSWER|AUTHORITY|ADDITIONAL) SECTION:", line)
        if m:
            section = _SECTIONS[m.group(1)]
            continue
        if not stripped:
            section = None
            continue
        if section == "question":
            fields = stripped.lstrip(";").split()
            r.question.append(tuple(fields[:3]))
        elif section and not stripped.startswith(";"):
            r.__dict__[section].append(_parse_record_line(stripped))
    if r.status is None:
        raise HarnessError("no response header in tool output:\n" + text)
    return r


def _parse_record_line(line):
    owner, ttl, rdclass, rdtype, rdata = line.split(None, 4) + [""] * (
        5 - len(line.split(None, 4)))
    if rdtype == "OPT":
        return (owner.lower(), int(ttl), rdtype, rdata)
    rd = dns.rdata.from_text(dns.rdataclass.from_text(rdclass), rdtype, rdata)
    return (owner.lower(), int(ttl), rdtype, rdata_key(rd))


def dig_argv(tool, host, port, qname, qtype, tcp=False, edns=0, bufsize=None,
             rd=True, extra=()):
    """argv for dig or kdig asking qname/qtype once, with no retry over TCP on TC."""
    if tool == "dig":
        argv = [require_tool("dig"), "@" + host, "-p", str(port), "+tries=1",
                "+timeout=%d" % QUERY_TIMEOUT, "+ignore", "+noednsnegotiation",
                "+tcp" if tcp else "+notcp", "+recurse" if rd else "+norecurse"]
        argv += ["+noedns"] if edns < 0 else ["+edns=%d" % edns]
    elif tool == "kdig":
        argv = [require_tool("kdig"), "@" + host, "-p", str(port), "+retry=0",
                "+timeout=%d" % QUERY_TIMEOUT, "+ignore",
                "+tcp" if tcp else "+notcp", "+rdflag" if rd else "+nordflag"]
        argv += ["+noedns"] if edns < 0 else ["+edns=%d" % edns]
    else:
        raise ValueError(tool)
    if bufsize is not None:
        argv.append("+bufsize=%d" % bufsize)
    return argv + list(extra) + [qname, qtype]


def run_dig(tool, host, port, qname, qtype, **kw):
    """Run dig or kdig once and parse its output; fails if it gets no answer."""
    argv = dig_argv(tool, host, port, qname, qtype, **kw)
    p = subprocess.run(argv, capture_output=True, text=True, errors="replace",
                       timeout=QUERY_TIMEOUT * 3)
    if p.returncode != 0 or "->>HEADER<<-" not in p.stdout:
        raise HarnessError(f"{' '.join(argv)} failed (exit {p.returncode}):\n"
                           f"{p.stdout}{p.stderr}")
    return parse_tool_output(p.stdout)


def uncompressed_size(msg):
    """Wire size of a parsed message if no name were compressed."""
    size = 12 + sum(len(q.name.to_wire()) + 4 for q in msg.question)
    for section in (msg.answer, msg.authority, msg.additional):
        for rrset in section:
            for rd in rrset:
                size += len(rrset.name.to_wire()) + 10 + len(rd.to_digestable())
    if msg.edns >= 0:
        size += 11 + sum(len(o.to_wire()) + 4 for o in msg.options)
    return size


# --------------------------------------------------------------------------
# TSIG (RFC 8945), done here rather than by dnspython so that a test can pick
# the time signed and read error responses (dnspython raises on those).

TSIG_DIGESTS = {"hmac-sha1": hashlib.sha1, "hmac-sha256": hashlib.sha256,
                "hmac-sha512": hashlib.sha512}
TSIG_FUDGE = 300
TSIG_RCODES = {0: "NOERROR", 16: "BADSIG", 17: "BADKEY", 18: "BADTIME", 22: "BADTRUNC"}


class TsigKey:
    """A TSIG key: absolute lower-case name, algorithm name, secret bytes."""

    def __init__(self, name, algorithm="hmac-sha256", secret=None):
        if algorithm not in TSIG_DIGESTS:
            raise ValueError(algorithm)
        self.name = dns.name.from_text(name).to_text()
        self.algorithm = algorithm
        self.secret = secret if secret is not None else os.urandom(
            TSIG_DIGESTS[algorithm]().digest_size)

    @property
    def secret_b64(self):
        return base64.b64encode(self.secret).decode()

    def bind_text(self):
        """The key as BIND's tsig-keygen writes it."""
        return (f'key "{self.name}" {{\n\talgorithm {self.algorithm};\n'
                f'\tsecret "{self.secret_b64}";\n}};\n')

    def dig_arg(self):
        """The argument of dig -y / nsupdate -y."""
        return f"{self.algorithm}:{self.name}:{self.secret_b64}"

    def with_secret(self, secret):
        return TsigKey(self.name, self.algorithm, secret)

    def renamed(self, name):
        return TsigKey(name, self.algorithm, self.secret)

    def __repr__(self):
        return f"TsigKey({self.name!r}, {self.algorithm!r})"


def write_key_file(path, keys):
    with open(path, "w") as f:
        for key in keys:
            f.write(key.bind_text())
    return path


class TsigInfo:
    """The fields of a received TSIG record."""

    def __init__(self, key_name, algorithm, time_signed, fudge, mac, original_id,
                 error, other, offset):
        self.key_name, self.algorithm = key_name, algorithm
        self.time_signed, self.fudge, self.mac = time_signed, fudge, mac
        self.original_id, self.error, self.other = original_id, error, other
        self.offset = offset  # where the TSIG RR starts in the message

    @property
    def error_text(self):
        return TSIG_RCODES.get(self.error, str(self.error))

    def __repr__(self):
        return (f"TsigInfo(key={self.key_name}, alg={self.algorithm}, "
                f"time={self.time_signed}, error={self.error_text}, "
                f"mac={len(self.mac)} bytes, other={self.other.hex()})")


def _canonical_name(name):
    return dns.name.from_text(name).canonicalize().to_wire()


def _tsig_variables(key_name, algorithm, time_signed, fudge, error, other):
    return (_canonical_name(key_name) + struct.pack("!HI", 255, 0)
            + _canonical_name(algorithm) + struct.pack("!HIH", time_signed >> 32,
                                                        time_signed & 0xFFFFFFFF, fudge)
            + struct.pack("!HH", error, len(other)) + other)


def tsig_sign(wire, key, time_signed=None, fudge=TSIG_FUDGE, request_mac=b"",
              error=0, other=b""):
    """wire with a TSIG RR appended (ARCOUNT + 1); returns (signed wire, MAC).

    time_signed defaults to now: pass another to sign with a wrong clock.
    """
    if time_signed is None:
        time_signed = int(time.time())
    original_id = struct.unpack("!H", wire[:2])[0]
    data = b""
    if request_mac:
        data += struct.pack("!H", len(request_mac)) + request_mac
    data += wire + _tsig_variables(key.name, key.algorithm, time_signed, fudge, error, other)
    mac = hmac.new(key.secret, data, TSIG_DIGESTS[key.algorithm]).digest()
    rdata = (dns.name.from_text(key.algorithm).to_wire()
             + struct.pack("!HIH", time_signed >> 32, time_signed & 0xFFFFFFFF, fudge)
             + struct.pack("!H", len(mac)) + mac
             + struct.pack("!HHH", original_id, error, len(other)) + other)
    rr = (dns.name.from_text(key.name).to_wire() + struct.pack("!HHIH", 250, 255, 0, len(rdata))
          + rdata)
    arcount = struct.unpack("!H", wire[10:12])[0]
    return wire[:10] + struct.pack("!H", arcount + 1) + wire[12:] + rr, mac


def walk_records(wire):
    """[(start, type, class, ttl, rdata offset, rdlength)] of every resource
    record of a message, in order (the question section skipped)."""
    qd, an, ns, ar = struct.unpack("!4H", wire[4:12])
    parser = dns.wire.Parser(wire, 12)
    for _ in range(qd):
        parser.get_name()
        parser.get_struct("!HH")
    out = []
    for _ in range(an + ns + ar):
        start = parser.current
        parser.get_name()
        rdtype, rdclass, ttl, rdlen = parser.get_struct("!HHIH")
        out.append((start, rdtype, rdclass, ttl, parser.current, rdlen))
        parser.seek(parser.current + rdlen)
    return out


def tsig_split(wire):
    """(wire without its TSIG and with ARCOUNT - 1, TsigInfo); (wire, None) if unsigned.

    Only a TSIG that is the last record of the message counts.
    """
    records = walk_records(wire)
    ar = struct.unpack("!H", wire[10:12])[0]
    if not records or records[-1][1] != 250 or ar == 0:
        return wire, None
    start, _, _, _, rdata_at, rdlen = records[-1]
    key_name = dns.name.from_wire(wire, start)[0].to_text()
    rdata = dns.wire.Parser(wire, rdata_at)
    algorithm = rdata.get_name().to_text()
    time_signed = rdata.get_uint48()
    fudge = rdata.get_uint16()
    mac = rdata.get_counted_bytes(2)
    original_id, error = rdata.get_struct("!HH")
    other = rdata.get_counted_bytes(2)
    info = TsigInfo(key_name, algorithm, time_signed, fudge, mac, original_id, error,
                    other, start)
    stripped = wire[:10] + struct.pack("!H", ar - 1) + wire[12:start]
    return stripped, info


def tsig_response_valid(wire, key, request_mac):
    """Is wire's TSIG a valid response MAC by key over the request's MAC?"""
    stripped, info = tsig_split(wire)
    if info is None or not info.mac:
        return False
    if dns.name.from_text(info.key_name) != dns.name.from_text(key.name):
        return False
    data = (struct.pack("!H", len(request_mac)) + request_mac
            + struct.pack("!H", info.original_id) + stripped[2:]
            + _tsig_variables(key.name, key.algorithm, info.time_signed, info.fudge,
                              info.error, info.other))
    expected = hmac.new(key.secret, data, TSIG_DIGESTS[key.algorithm]).digest()
    return hmac.compare_digest(expected[:len(info.mac)], info.mac)


# --------------------------------------------------------------------------
# DNS UPDATE (RFC 2136) and UPDATE-LEASE (RFC 9664)

UPDATE_LEASE = 2  # EDNS option code


def lease_option(lease, key_lease=None):
    """The UPDATE-LEASE EDNS option: 4 bytes, or 8 with the KEY-LEASE."""
    data = struct.pack("!I", lease)
    if key_lease is not None:
        data += struct.pack("!I", key_lease)
    return dns.edns.GenericOption(UPDATE_LEASE, data)


def update_message(zone, lease=None, key_lease=None, qid=None):
    """A dns.update.UpdateMessage for zone; with lease, EDNS carries UPDATE-LEASE."""
    msg = dns.update.UpdateMessage(zone)
    if lease is not None:
        msg.use_edns(0, payload=1232, options=[lease_option(lease, key_lease)])
    if qid is not None:
        msg.id = qid
    return msg


def rr_wire(name, rdtype, rdclass, ttl, rdata=b""):
    """One uncompressed resource record. rdtype/rdclass: text or number;
    rdata: wire bytes, or presentation text read as class IN."""
    rdtype = dns.rdatatype.from_text(rdtype) if isinstance(rdtype, str) else rdtype
    rdclass = dns.rdataclass.from_text(rdclass) if isinstance(rdclass, str) else rdclass
    if isinstance(rdata, str):
        rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, rdata).to_digestable()
    return (dns.name.from_text(name).to_wire()
            + struct.pack("!HHIH", rdtype, rdclass, ttl, len(rdata)) + rdata)


def update_wire(zone, prerequisites=(), updates=(), additional=(), qid=None,
                zone_type="SOA", zone_class="IN", zones=None):
    """A raw UPDATE message, for the forms dnspython will not build.

    prerequisites, updates, additional: (name, type, class, ttl, rdata) tuples
    as rr_wire takes them. zones: [(name, type, class)] to replace the single
    zone entry (e.g. none, or two).
    """
    if zones is None:
        zones = [(zone, zone_type, zone_class)]
    qid = random_qid() if qid is None else qid
    out = struct.pack("!6H", qid, 5 << 11, len(zones), len(prerequisites), len(updates),
                      len(additional))
    for name, rdtype, rdclass in zones:
        rdtype = dns.rdatatype.from_text(rdtype) if isinstance(rdtype, str) else rdtype
        rdclass = dns.rdataclass.from_text(rdclass) if isinstance(rdclass, str) else rdclass
        out += dns.name.from_text(name).to_wire() + struct.pack("!HH", rdtype, rdclass)
    for record in list(prerequisites) + list(updates) + list(additional):
        out += rr_wire(*record)
    return out


class UpdateReply:
    """A response to an UPDATE: rcode, TSIG fields and validity, granted lease.

    message is the dnspython message without the TSIG, or None when dnspython
    cannot read it (an echoed zone section of a type other than SOA).
    """

    def __init__(self, wire, key=None, request_mac=b""):
        self.wire = wire
        stripped, self.tsig = tsig_split(wire)
        try:
            self.message = dns.message.from_wire(stripped)
        except dns.exception.FormError:
            self.message = None
        self.rcode = wire[3] & 0xF
        self.lease_data = None
        for _, rdtype, _, ttl, at, rdlen in walk_records(stripped):
            if rdtype != 41:
                continue
            self.rcode |= (ttl >> 24) << 4
            options = dns.wire.Parser(stripped[:at + rdlen], at)
            while options.remaining() >= 4:
                code, length = options.get_struct("!HH")
                data = options.get_bytes(length)
                if code == UPDATE_LEASE:
                    self.lease_data = data
        self.signed_ok = (self.tsig is not None and key is not None
                          and tsig_response_valid(wire, key, request_mac))

    @property
    def rcode_text(self):
        return dns.rcode.to_text(self.rcode)

    @property
    def lease(self):
        if self.lease_data is None or len(self.lease_data) < 4:
            return None
        return struct.unpack("!I", self.lease_data[:4])[0]

    def __repr__(self):
        return (f"UpdateReply(rcode={self.rcode_text}, tsig={self.tsig}, "
                f"signed_ok={self.signed_ok}, lease={self.lease_data!r})")


def message_wire(msg):
    return msg if isinstance(msg, (bytes, bytearray)) else msg.to_wire()


def send_update(server_or_host, msg, key=None, port=None, tcp=False, time_signed=None,
                timeout=QUERY_TIMEOUT):
    """Send an UPDATE (a dnspython message or wire), signed with key if given.

    Returns an UpdateReply; raises HarnessError if no answer comes in time.
    """
    wire = bytes(message_wire(msg))
    mac = b""
    if key is not None:
        wire, mac = tsig_sign(wire, key, time_signed)
    try:
        if tcp:
            answer = tcp_exchange(server_or_host, wire, port, timeout)
        else:
            answer = udp_exchange(server_or_host, wire, port, timeout)
    except OSError as e:
        raise HarnessError(f"UPDATE exchange failed: {e!r}")
    if answer is None:
        raise HarnessError("no answer to an UPDATE within %ss" % timeout)
    return UpdateReply(answer, key, mac)


# --------------------------------------------------------------------------
# Looking at a zone through queries (no zone transfer)

def rdata_set(server_or_host, name, rdtype, port=None, tcp=False):
    """(rcode text, frozenset of canonical rdata texts of name/rdtype, TTL or None).

    Only records owned by name of type rdtype count (a CNAME answer gives none).
    A truncated UDP answer is asked again over TCP.
    """
    q = make_query(name, rdtype, rd=False)
    r = tcp_query(server_or_host, q, port) if tcp else udp_query(server_or_host, q, port)
    if r.flags & dns.flags.TC:
        r = tcp_query(server_or_host, q, port)
    owner = dns.name.from_text(name)
    want = dns.rdatatype.from_text(rdtype) if isinstance(rdtype, str) else rdtype
    texts, ttl = set(), None
    for rrset in r.answer:
        if rrset.name == owner and rrset.rdtype == want:
            ttl = rrset.ttl
            texts.update(rdata_key(rd) for rd in rrset)
    return dns.rcode.to_text(r.rcode()), frozenset(texts), ttl


def rdatas(server_or_host, name, rdtype, port=None, tcp=False):
    """The canonical rdata texts of name/rdtype (empty when there are none)."""
    return rdata_set(server_or_host, name, rdtype, port, tcp)[1]


def name_records(server_or_host, name, port=None):
    """(rcode text, frozenset of (type, ttl, canonical rdata)) of every RRset
    owned by name, by one ANY query over TCP (epmdnsd answers ANY in full over
    TCP; Knot does not, RFC 8482)."""
    r = tcp_query(server_or_host, make_query(name, "ANY", rd=False), port)
    owner = dns.name.from_text(name)
    return dns.rcode.to_text(r.rcode()), frozenset(
        (dns.rdatatype.to_text(rrset.rdtype), rrset.ttl, rdata_key(rd))
        for rrset in r.answer if rrset.name == owner for rd in rrset)


# Many lookups at once: pipelined over one UDP socket, answers read without
# dnspython (fast enough for thousands of names). Record data is compared in
# canonical wire form: names uncompressed and lower-case (RFC 4034 6.2).

_NAME_AT = {2: 0, 5: 0, 12: 0, 15: 2, 33: 6}  # NS, CNAME, PTR, MX, SRV: rdata name offset


def _read_wire_name(data, pos):
    """(lower-case uncompressed wire name at pos, position after it)."""
    labels, end, hops = [], None, 0
    while True:
        length = data[pos]
        if length >= 0xC0:
            if end is None:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | data[pos + 1]
            hops += 1
            if hops > 127:
                raise HarnessError("compression loop in an answer")
            continue
        labels.append(data[pos:pos + 1 + length])
        pos += 1 + length
        if length == 0:
            return b"".join(labels).lower(), (pos if end is None else end)


def canonical_wire_rdata(rdtype, text):
    """The canonical wire form of one rdata given in presentation form."""
    rdtype = dns.rdatatype.from_text(rdtype) if isinstance(rdtype, str) else rdtype
    return dns.rdata.from_text(dns.rdataclass.IN, rdtype, text).to_digestable()


def _answer_rdatas(data, qtype):
    """(rcode, TC, frozenset of canonical rdata of type qtype in the answer)."""
    flags, qd, an = struct.unpack("!HHH", data[2:8])
    pos = 12
    for _ in range(qd):
        pos = _read_wire_name(data, pos)[1] + 4
    found = set()
    for _ in range(an):
        pos = _read_wire_name(data, pos)[1]
        rdtype, _, _, rdlen = struct.unpack("!HHIH", data[pos:pos + 10])
        pos += 10
        if rdtype == qtype:
            if rdtype in _NAME_AT:
                k = _NAME_AT[rdtype]
                found.add(data[pos:pos + k] + _read_wire_name(data, pos + k)[0])
            else:
                found.add(data[pos:pos + rdlen])
        pos += rdlen
    return flags & 0xF, bool(flags & 0x0200), frozenset(found)


def bulk_rdatas(server_or_host, queries, port=None, window=64, timeout=QUERY_TIMEOUT,
                attempts=3):
    """{(name, type): (rcode, frozenset of canonical wire rdata)} for many
    (name, type text) pairs; truncated answers are asked again over TCP."""
    host, port = _addr(server_or_host, port)
    out, pending = {}, {}
    queue = list(dict.fromkeys(queries))
    qid = random_qid()
    tries = 0
    with udp_socket(host, timeout) as sock:
        sock.connect((host, port))
        i = 0
        while i < len(queue) or pending:
            while i < len(queue) and len(pending) < window:
                name, rdtype = queue[i]
                i += 1
                qid = (qid + 1) & 0xFFFF
                qtype = dns.rdatatype.from_text(rdtype)
                wire = raw_header(qid, flags=0) + raw_question(name, qtype)
                pending[qid] = ((name, rdtype), qtype, wire)
                sock.send(wire)
            try:
                data = sock.recv(65535)
            except socket.timeout:
                tries += 1
                if tries >= attempts:
                    raise HarnessError(f"{len(pending)} lookups unanswered after {attempts} "
                                       f"tries of {timeout}s")
                for _, _, wire in pending.values():
                    sock.send(wire)
                continue
            entry = pending.pop(struct.unpack("!H", data[:2])[0], None)
            if entry is None:
                continue
            key, qtype, wire = entry
            rcode, truncated, found = _answer_rdatas(data, qtype)
            if truncated:
                rcode, _, found = _answer_rdatas(tcp_exchange(host, wire, port, timeout), qtype)
            out[key] = (rcode, found)
    return out


def soa_serial(server_or_host, zone, port=None):
    q = make_query(zone, "SOA", rd=False)
    r = udp_query(server_or_host, q, port)
    for rrset in r.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return rrset[0].serial
    raise HarnessError(f"no SOA for {zone} in {r}")


def snapshot(server_or_host, names_types, port=None):
    """{(name, type): (rcode, rdata set, ttl)} for every (name, type) given."""
    return {(n, t): rdata_set(server_or_host, n, t, port) for n, t in names_types}


def canon(rdtype, text):
    """Canonical rdata text, as rdata_set returns it."""
    return rdata_key(dns.rdata.from_text(dns.rdataclass.IN, rdtype, text))


def registrations_present(server_or_host, nodes, port=None):
    """{node: [bool per record of node.wire_records()]}, by bulk lookups."""
    wanted = [(node, node.wire_records()) for node in nodes]
    answers = bulk_rdatas(server_or_host, [(o, t) for _, recs in wanted for o, t, _ in recs],
                          port)
    return {node: [rd in answers[(o, t)][1] for o, t, rd in recs] for node, recs in wanted}


JOURNAL_ENTRY_MAGIC = 0x45504A31  # "EPJ1": magic, payload length, CRC-32C, then the payload


def journal_entries_end(path):
    """Where the entries of a journal file end: epmdnsd zero-fills the newest file ahead of
    them, so this is not the file's size."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos + 12 <= len(data):
        magic, length, _ = struct.unpack_from("!III", data, pos)
        if magic != JOURNAL_ENTRY_MAGIC or pos + 12 + length > len(data):
            break
        pos += 12 + length
    return pos


def journal_files(state_dir):
    """The journal files of an epmdnsd state directory, oldest first (the newest
    is the one appended to)."""
    names = [f for f in os.listdir(state_dir) if f.startswith("journal")]
    return [os.path.join(state_dir, f) for f in sorted(names)]


class ErlangNode:
    """The records of one Erlang node registration (README "How Erlang nodes
    appear in DNS"): Host A (and AAAA), Name._erlang-dist._tcp.Host SRV and TXT,
    _erlang-dist._tcp.Host PTR and _erlang-dist._tcp.Zone PTR."""

    def __init__(self, name, host, zone, port, address, ttl=60, address6=None):
        self.name, self.zone, self.port, self.address = name, zone, port, address
        self.host = dns.name.from_text(host).to_text()
        self.address6, self.ttl = address6, ttl
        self.instance = f"{name}._erlang-dist._tcp.{self.host}"
        self.host_browse = f"_erlang-dist._tcp.{self.host}"
        self.zone_browse = f"_erlang-dist._tcp.{dns.name.from_text(zone).to_text()}"

    def records(self):
        """[(owner, type, rdata text)] of the registration."""
        out = [(self.host, "A", self.address)]
        if self.address6:
            out.append((self.host, "AAAA", self.address6))
        out += [(self.instance, "SRV", f"0 0 {self.port} {self.host}"),
                (self.instance, "TXT", '"vsn=6"'),
                (self.host_browse, "PTR", self.instance),
                (self.zone_browse, "PTR", self.instance)]
        return out

    def add_to(self, msg):
        for owner, rdtype, text in self.records():
            msg.add(owner, self.ttl, rdtype, text)
        return msg

    def delete_from(self, msg, keep_host=False):
        """Delete this node's records one by one (the host's address too unless keep_host)."""
        for owner, rdtype, text in self.records():
            if keep_host and owner == self.host:
                continue
            msg.delete(owner, rdtype, text)
        return msg

    def wire_records(self):
        """[(owner, type, canonical wire rdata)], as bulk_rdatas reports them."""
        def name(text):
            return wire_name(text).lower()
        out = [(self.host, "A", socket.inet_pton(socket.AF_INET, self.address))]
        if self.address6:
            out.append((self.host, "AAAA", socket.inet_pton(socket.AF_INET6, self.address6)))
        out += [(self.instance, "SRV", struct.pack("!HHH", 0, 0, self.port) + name(self.host)),
                (self.instance, "TXT", b"\x05vsn=6"),
                (self.host_browse, "PTR", name(self.instance)),
                (self.zone_browse, "PTR", name(self.instance))]
        return out

    def register(self, lease=None, qid=None):
        return self.add_to(update_message(self.zone, lease=lease, qid=qid))

    def present(self, server_or_host, port=None, tcp=False):
        """{(owner, type, text): bool} -- is each record of the node served?"""
        return {(o, t, x): canon(t, x) in rdatas(server_or_host, o, t, port, tcp)
                for o, t, x in self.records()}

    def __repr__(self):
        return f"ErlangNode({self.instance})"
