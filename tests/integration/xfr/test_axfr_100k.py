"""A TSIG-signed AXFR of a 100,000-node zone completes and matches the zone file record
for record (issue 7).

The zone is written by bench/gen_zone.py with every node in the cluster-wide browse PTR
set (--cluster-browse-limit 0): 500,005 records, some 25 MB on the wire, and one RRset
of 100,000 PTRs that must be split across messages. The transfer is read here over a
plain TCP socket, not with kdig (kdig checks only the first message's TSIG) nor with
dnspython (too slow for half a million records): every message's MAC is checked, chained
on the one before (RFC 8945 5.3.1), and every record is compared in canonical wire form
(RFC 4034 6.2) with the zone file, read by a small parser of its own that knows only the
few types gen_zone.py writes (anything else goes through dnspython).
"""

import hmac
import os
import socket
import struct
import subprocess
import sys
import time
import unittest

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

BIG = "big.test."
NODES = 100_000
LOAD_TIMEOUT = 60.0     # seconds for epmdnsd to load the zone and answer (~2 s idle)
TRANSFER_TIMEOUT = 60.0  # seconds of socket silence allowed during the transfer

SOA, TSIG = 6, 250
TYPES = {"A": 1, "NS": 2, "SOA": 6, "PTR": 12, "TXT": 16, "SRV": 33}
# Types whose rdata holds names, and where the names start: (fixed bytes before, names).
NAME_RDATA = {2: (0, 1), 5: (0, 1), 12: (0, 1), 15: (2, 1), 33: (6, 1), 6: (0, 2)}


def read_name(wire, pos, memo):
    """(lower-case uncompressed name at pos, position after it). memo maps the offsets
    of names met in this message to their text, so that a compression pointer is
    followed once per target, not once per record (half a million records)."""
    labels, end = [], None
    while True:
        if end is not None and pos in memo:
            name = memo[pos]
            break
        length = wire[pos]
        if length >= 0xC0:
            if end is None:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | wire[pos + 1]
            if len(labels) > 127:
                raise AssertionError("compression loop")
            labels.append((None, b""))
            continue
        if length == 0:
            name = b"\x00"
            if end is None:
                end = pos + 1
            break
        labels.append((pos, wire[pos:pos + 1 + length].lower()))
        pos += 1 + length
    for at, label in reversed(labels):
        if at is not None:
            name = label + name
            memo[at] = name
    return name, end


def canonical_rdata(wire, rdtype, pos, rdlen, memo):
    """rdata in canonical form: names uncompressed and lower-case."""
    if rdtype not in NAME_RDATA:
        return wire[pos:pos + rdlen]
    fixed, names = NAME_RDATA[rdtype]
    out, at = [wire[pos:pos + fixed]], pos + fixed
    for _ in range(names):
        name, at = read_name(wire, at, memo)
        out.append(name)
    out.append(wire[at:pos + rdlen])  # SOA's five numbers
    return b"".join(out)


def record_key(owner, rdtype, ttl, rdata):
    return owner + struct.pack("!HI", rdtype, ttl) + rdata


def parse_message(wire):
    """([record keys of the answer section], TSIG RR start or None). Raises on any
    malformation: the walk must end exactly at the end of the message."""
    qd, an, ns, ar = struct.unpack("!4H", wire[4:12])
    pos, memo = 12, {}
    for _ in range(qd):
        pos = read_name(wire, pos, memo)[1] + 4
    keys, tsig_at = [], None
    for i in range(an + ns + ar):
        start = pos
        owner, pos = read_name(wire, pos, memo)
        rdtype, _, ttl, rdlen = struct.unpack_from("!HHIH", wire, pos)
        pos += 10
        if rdtype == TSIG:
            if i != an + ns + ar - 1:
                raise AssertionError("TSIG is not the last record of a message")
            tsig_at = start
        elif i < an:
            keys.append(record_key(owner, rdtype, ttl, canonical_rdata(wire, rdtype, pos, rdlen,
                                                                        memo)))
        pos += rdlen
    if pos != len(wire):
        raise AssertionError(f"{len(wire) - pos} bytes after the last record")
    return keys, tsig_at


def parse_tsig(wire, at):
    """The fields of the TSIG RR at offset at (the last record of wire)."""
    key, pos = read_name(wire, at, {})
    pos += 10  # type, class, TTL, rdlength
    algorithm, pos = read_name(wire, pos, {})
    high, low, fudge, mac_size = struct.unpack_from("!HIHH", wire, pos)
    pos += 10
    mac = wire[pos:pos + mac_size]
    original_id, error, other_size = struct.unpack_from("!HHH", wire, pos + mac_size)
    other_at = pos + mac_size + 6
    return dict(key=key, algorithm=algorithm, time=(high << 32) | low, fudge=fudge, mac=mac,
                original_id=original_id, error=error, other=wire[other_at:other_at + other_size])


def wire_name(text):
    """Uncompressed lower-case wire form of an absolute dotted name."""
    return b"".join(bytes((len(label),)) + label
                    for label in text.lower().encode().split(b"."))


def zone_file_records(path):
    """{record key} of a zone file in gen_zone.py's layout, read without epmdnsd."""
    origin, default_ttl, origin_wire = None, None, None
    names, labels = {}, {}  # caches: a name is written 2-3 times, a label many more

    def name(text):
        wire = names.get(text)
        if wire is None:
            if text == "@":
                wire = origin_wire
            elif text.endswith("."):
                wire = wire_name(text)
            else:
                parts = []
                for label in text.split("."):
                    encoded = labels.get(label)
                    if encoded is None:
                        raw = label.lower().encode()
                        encoded = labels[label] = bytes((len(raw),)) + raw
                    parts.append(encoded)
                wire = b"".join(parts) + origin_wire
            names[text] = wire
        return wire

    out = set()
    with open(path) as f:
        for line in f:
            fields = line.split()
            if not fields or fields[0].startswith(";"):
                continue
            if fields[0] == "$ORIGIN":
                origin = fields[1]
                origin_wire = wire_name(origin)
                names.clear()
                continue
            if fields[0] == "$TTL":
                default_ttl = int(fields[1])
                continue
            owner, rest = fields[0], fields[1:]
            ttl = default_ttl
            if rest[0].isdigit():
                ttl, rest = int(rest[0]), rest[1:]
            if rest[0] == "IN":
                rest = rest[1:]
            rdtype, data = rest[0], rest[1:]
            if rdtype == "A":
                rdata = socket.inet_aton(data[0])
            elif rdtype in ("PTR", "NS", "CNAME"):
                rdata = name(data[0])
            elif rdtype == "SRV":
                rdata = struct.pack("!HHH", *map(int, data[:3])) + name(data[3])
            elif rdtype == "TXT" and len(data) == 1 and data[0][0] == data[0][-1] == '"' \
                    and "\\" not in data[0]:
                text = data[0][1:-1].encode()
                rdata = bytes([len(text)]) + text
            elif rdtype == "SOA":
                rdata = name(data[0]) + name(data[1]) + struct.pack(
                    "!5I", *map(int, data[2:7]))
            else:
                rd = dns.rdata.from_text(dns.rdataclass.IN, rdtype, " ".join(data),
                                         origin=dns.name.from_text(origin))
                rdata = rd.to_digestable()
            out.add(record_key(name(owner), TYPES.get(rdtype) or dns.rdatatype.from_text(rdtype),
                               ttl, rdata))
    return out


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise AssertionError(f"connection closed with {n - len(buf)} bytes missing")
        buf += chunk
    return bytes(buf)


class Axfr100kTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cleanup = cls.addClassCleanup
        workdir = harness.temp_dir(cleanup, "xfr-100k-")
        zones = os.path.join(workdir, "zones")
        os.makedirs(zones)
        cls.zone_file = os.path.join(zones, "big.test.zone")
        gen = os.path.join(harness.SOURCE_DIR, "bench", "gen_zone.py")
        with open(cls.zone_file, "w") as out:
            subprocess.run([sys.executable, gen, str(NODES), BIG, "--cluster-browse-limit", "0"],
                           stdout=out, check=True, timeout=60)
        cls.key = harness.TsigKey("xfr-key.", "hmac-sha256")
        keys = harness.write_key_file(os.path.join(workdir, "keys.conf"), [cls.key])
        port = harness.free_port()
        argv = [harness.epmdnsd_path(), "--listen", f"127.0.0.1:{port}", "--zones", zones,
                "--keys", keys, "--state-dir", os.path.join(workdir, "state"),
                "--allow-transfer", "key:xfr-key", "--threads", "1"]
        cls.server = harness.Server("epmdnsd", argv, workdir, [("127.0.0.1", port)])
        cleanup(cls.server.stop)
        cls.server.wait_answers_soa(BIG, timeout=LOAD_TIMEOUT)

    def signed_axfr(self):
        """[(message wire, TsigInfo, stripped wire)] of one signed AXFR, and the request MAC."""
        q = harness.raw_header(harness.random_qid(), flags=0) + harness.raw_question(BIG, 252)
        wire, request_mac = harness.tsig_sign(q, self.key)
        messages = []
        with socket.create_connection(("127.0.0.1", self.server.port),
                                      timeout=TRANSFER_TIMEOUT) as sock:
            sock.sendall(harness.tcp_frame(wire))
            soas = 0
            while soas < 2:
                length = struct.unpack("!H", recv_exact(sock, 2))[0]
                msg = recv_exact(sock, length)
                self.assertEqual(msg[3] & 0xF, 0, f"rcode {msg[3] & 0xF} in message "
                                 f"{len(messages)}")
                keys, tsig_at = parse_message(msg)
                soas += sum(1 for k in keys if self.is_soa(k))
                messages.append((msg, keys, tsig_at))
        return messages, request_mac

    @staticmethod
    def is_soa(key):
        end = key.index(b"\x00") + 1  # the owner's root label
        return key[end:end + 2] == b"\x00\x06"

    def check_tsig_chain(self, messages, request_mac):
        """Every message signed by the key; the first over the request MAC and full
        variables, each later one over the MAC before it and the timers (RFC 8945 5.3.1)."""
        digest = harness.TSIG_DIGESTS[self.key.algorithm]
        prior_mac = request_mac
        for i, (msg, _, tsig_at) in enumerate(messages):
            self.assertIsNotNone(tsig_at, f"message {i} of {len(messages)} is not signed")
            info = parse_tsig(msg, tsig_at)
            self.assertEqual(info["key"], harness.wire_name(self.key.name))
            self.assertEqual(info["algorithm"], harness.wire_name(self.key.algorithm))
            self.assertEqual(info["error"], 0, info)
            ar = struct.unpack("!H", msg[10:12])[0]
            body = (struct.pack("!H", info["original_id"]) + msg[2:10] + struct.pack("!H", ar - 1)
                    + msg[12:tsig_at])
            timers = struct.pack("!HIH", info["time"] >> 32, info["time"] & 0xFFFFFFFF,
                                 info["fudge"])
            if i == 0:
                tail = harness._tsig_variables(self.key.name, self.key.algorithm,
                                               info["time"], info["fudge"], info["error"],
                                               info["other"])
            else:
                tail = timers
            data = struct.pack("!H", len(prior_mac)) + prior_mac + body + tail
            expected = hmac.new(self.key.secret, data, digest).digest()
            self.assertEqual(info["mac"], expected, f"bad MAC on message {i} of {len(messages)}")
            self.assertLess(abs(info["time"] - time.time()), info["fudge"])
            prior_mac = info["mac"]

    def test_signed_axfr_of_100k_nodes_matches_zone_file(self):
        start = time.monotonic()
        messages, request_mac = self.signed_axfr()
        transferred = time.monotonic() - start
        self.check_tsig_chain(messages, request_mac)
        got = [k for _, keys, _ in messages for k in keys]
        size = sum(len(m) for m, _, _ in messages)
        expected = zone_file_records(self.zone_file)
        self.assertEqual(len(expected), 4 + 5 * NODES)
        # SOA first and last, nowhere else; every other record exactly once.
        self.assertTrue(self.is_soa(got[0]) and got[0] == got[-1])
        self.assertEqual([i for i, k in enumerate(got) if self.is_soa(k)], [0, len(got) - 1])
        body = got[:-1]
        self.assertEqual(len(set(body)), len(body), "a record sent twice")
        body = set(body)
        missing, extra = expected - body, body - expected
        self.assertEqual((len(missing), len(extra)), (0, 0),
                         f"missing e.g. {sorted(missing)[:3]}, extra e.g. {sorted(extra)[:3]}")
        self.assertGreater(len(messages), 100, "25 MB take many messages")
        self.assertTrue(all(len(m) <= 65535 for m, _, _ in messages))
        print(f"\n100k-node AXFR: {len(messages)} messages, {len(got)} records, {size} bytes, "
              f"{transferred:.2f} s; whole check {time.monotonic() - start:.2f} s",
              file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
