"""Shared helpers for the epmdnsd integration tests.

Everything here talks to real things: the epmdnsd binary named by $EPMDNSD,
knotd, dig and kdig, over loopback sockets only. Every wait is bounded and
every process started here is stopped through the cleanup callback given.
"""

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

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype

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
                r = dns.query.udp(make_query(zone, "SOA"), host, port=port, timeout=0.2)
                if r.rcode() == dns.rcode.NOERROR and r.answer:
                    pending.pop(0)
                    continue
                last_error = "rcode %s" % dns.rcode.to_text(r.rcode())
            except (dns.exception.Timeout, OSError) as e:
                last_error = repr(e)
            time.sleep(0.05)


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
                  ready_zone=BUNDLED_ORIGIN):
    """Start epmdnsd listening on every host at one free port.

    zones: a --zones path (None: the built-in zone). Extra flags go in args.
    Returns a Server once it answers SOA ready_zone on every address.
    """
    binary = epmdnsd_path()

    def launch(port):
        argv = [binary]
        for h in hosts:
            argv += ["--listen", listen_arg(h, port)]
        if zones is not None:
            argv += ["--zones", zones]
        argv += list(args)
        workdir = temp_dir(cleanup, "epmdnsd-run-")
        server = Server("epmdnsd", argv, workdir, [(h, port) for h in hosts])
        cleanup(server.stop)
        server.wait_answers_soa(ready_zone)
        return server
    return start_on_free_port(hosts, launch)


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
template:
  - id: default
    storage: "{storage}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: on
zone:
{zones}"""


def start_knotd(cleanup, zones):
    """Run knotd in the foreground serving zones [(origin, file)] on 127.0.0.1.

    Knot never writes the zone files: zonefile-sync -1, no journal.
    """
    knotd = require_tool("knotd")
    zone_text = "".join(f"  - domain: {origin}\n    file: \"{path}\"\n"
                        for origin, path in zones)

    def launch(port):
        workdir = temp_dir(cleanup, "knotd-run-")
        rundir = os.path.join(workdir, "run")
        storage = os.path.join(workdir, "storage")
        os.makedirs(rundir)
        os.makedirs(storage)
        conf = os.path.join(workdir, "knot.conf")
        with open(conf, "w") as f:
            f.write(KNOT_CONF.format(rundir=rundir, port=port, storage=storage,
                                     zones=zone_text))
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
