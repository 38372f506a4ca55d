"""Hand-built malformed messages over UDP and TCP, then a bounded random blast.

Each case asserts the exact rcode and the echoed id (or that nothing comes
back), then that the server still answers a normal query. The server runs
with --threads 1, so a reply to a bad datagram would arrive before the reply
to the probe query sent after it on the same socket.
"""

import os
import random
import socket
import struct
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from harness import raw_header, raw_question, wire_name, OPT_RR  # noqa: E402
import dns.rcode  # noqa: E402

QNAME = "host1.erl.internal."
QUESTION = raw_question(QNAME)
QTYPE_CLASS_A_IN = struct.pack("!HH", 1, 1)
FORMERR, NOTIMP, REFUSED = dns.rcode.FORMERR, dns.rcode.NOTIMP, dns.rcode.REFUSED
NO_ANSWER = None
PROBE_ID = 0xABCD
BLAST_SEED = int(os.environ.get("EPMDNS_BLAST_SEED", "20240601"))
BLAST_PACKETS = 2000
BLAST_TCP_CONNECTIONS = 100


def opcode_flags(opcode):
    return (opcode << 11) | 0x0100


def cases():
    """(name, message bytes without the id, expected rcode or NO_ANSWER).

    The first two bytes of every message are the id; the tests fill them in.
    """
    hdr = raw_header(0)
    long_name = b"".join(b"\x3f" + b"a" * 63 for _ in range(4)) + wire_name("erl.internal.")
    return [
        ("empty message", b"", NO_ANSWER),
        ("header of 5 bytes", hdr[:5], NO_ANSWER),
        ("header of 11 bytes", hdr[:11], NO_ANSWER),
        ("header only, qdcount 1", hdr, FORMERR),
        ("question name cut short", hdr + b"\x05host1\x03erl", FORMERR),
        ("question without qtype and qclass", hdr + wire_name(QNAME), FORMERR),
        ("question with half a qtype", hdr + wire_name(QNAME) + b"\x00", FORMERR),
        ("question without qclass", hdr + wire_name(QNAME) + b"\x00\x01", FORMERR),
        ("qdcount 0", raw_header(0, qd=0), FORMERR),
        ("qdcount 0 with a question present", raw_header(0, qd=0) + QUESTION, FORMERR),
        ("qdcount 2", raw_header(0, qd=2) + QUESTION + raw_question("host2.erl.internal."),
         FORMERR),
        ("qdcount 2 with one question", raw_header(0, qd=2) + QUESTION, FORMERR),
        ("label of 64 bytes", hdr + b"\x40" + b"a" * 64 + wire_name("erl.internal.")
         + QTYPE_CLASS_A_IN, FORMERR),
        ("reserved label type 0x80", hdr + b"\x80\x01a\x00" + QTYPE_CLASS_A_IN, FORMERR),
        ("name of 270 bytes", hdr + long_name + QTYPE_CLASS_A_IN, FORMERR),
        ("compression pointer to itself", hdr + b"\xc0\x0c" + QTYPE_CLASS_A_IN, FORMERR),
        ("compression pointer loop through a label", hdr + b"\x01a\xc0\x0c"
         + QTYPE_CLASS_A_IN, FORMERR),
        ("forward compression pointer", hdr + b"\xc0\x0e" + QTYPE_CLASS_A_IN, FORMERR),
        ("compression pointer beyond the message", hdr + b"\xc0\xff" + QTYPE_CLASS_A_IN,
         FORMERR),
        ("trailing garbage", hdr + QUESTION + b"\xde\xad\xbe\xef", FORMERR),
        ("one byte of trailing garbage", hdr + QUESTION + b"\x00", FORMERR),
        ("two OPT records", raw_header(0, ar=2) + QUESTION + OPT_RR + OPT_RR, FORMERR),
        ("arcount 1 without a record", raw_header(0, ar=1) + QUESTION, FORMERR),
        ("OPT record cut short", raw_header(0, ar=1) + QUESTION + OPT_RR[:7], FORMERR),
        ("EDNS option longer than its OPT record", raw_header(0, ar=1) + QUESTION
         + OPT_RR[:-2] + struct.pack("!HHH", 4, 65001, 10), FORMERR),
        ("compression loop in the additional section", raw_header(0, ar=1) + QUESTION
         + struct.pack("!H", 0xC000 | (12 + len(QUESTION))) + struct.pack("!HHIH", 1, 1, 60, 4)
         + b"\x7f\x00\x00\x01", FORMERR),
        ("ancount 1 without a record", raw_header(0, an=1) + QUESTION, FORMERR),
        ("QR bit set", raw_header(0, flags=0x8100) + QUESTION, NO_ANSWER),
        ("QR bit set on a malformed message", raw_header(0, flags=0x8100) + b"\x05ho",
         NO_ANSWER),
        ("opcode IQUERY", raw_header(0, flags=opcode_flags(1)) + QUESTION, NOTIMP),
        ("opcode STATUS", raw_header(0, flags=opcode_flags(2)) + QUESTION, NOTIMP),
        ("opcode 3 (unassigned)", raw_header(0, flags=opcode_flags(3)) + QUESTION, NOTIMP),
        ("opcode NOTIFY", raw_header(0, flags=opcode_flags(4)) + QUESTION, NOTIMP),
        ("opcode 15 (unassigned)", raw_header(0, flags=opcode_flags(15)) + QUESTION, NOTIMP),
        ("qclass CH", hdr + raw_question(QNAME, qclass=3), REFUSED),
        ("qclass CH version.bind TXT", hdr + raw_question("version.bind.", 16, 3), REFUSED),
        ("qclass HS", hdr + raw_question(QNAME, qclass=4), REFUSED),
    ]


def with_id(message, qid):
    return struct.pack("!H", qid) + message[2:] if len(message) >= 2 else message


def probe_query():
    return with_id(raw_header(0) + QUESTION, PROBE_ID)


class MalformedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_epmdnsd(cls.addClassCleanup, args=["--threads", "1"])

    def assert_server_answers(self):
        self.assertTrue(self.server.alive(), self.server.describe())
        r = harness.udp_query(self.server, harness.make_query(QNAME, "A"))
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        r = harness.tcp_query(self.server, harness.make_query(QNAME, "A"))
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)

    def assert_reply(self, reply, qid, expected, message):
        self.assertIsNotNone(reply, "no reply")
        h = harness.Header(reply)
        self.assertTrue(h.qr, f"QR not set: {h}")
        self.assertEqual(h.id, qid, f"id not echoed: {h}")
        self.assertEqual(h.rcode, expected,
                         f"expected {dns.rcode.to_text(expected)}, got {h}")
        if expected == NOTIMP:
            self.assertEqual(h.opcode, harness.Header(message).opcode, f"opcode not echoed: {h}")

    def test_udp(self):
        rng = random.Random(1)
        for name, message, expected in cases():
            with self.subTest(case=name, transport="udp"):
                qid = harness.random_qid(rng)
                message = with_id(message, qid)
                with harness.udp_socket(self.server.host) as s:
                    s.sendto(message, self.server.addrs[0])
                    if expected is NO_ANSWER:
                        s.sendto(probe_query(), self.server.addrs[0])
                        reply = s.recv(65535)
                        self.assertEqual(harness.Header(reply).id, PROBE_ID,
                                         f"got a reply to the bad message: "
                                         f"{harness.Header(reply)}")
                    else:
                        try:
                            reply = s.recv(65535)
                        except socket.timeout:
                            reply = None
                        self.assert_reply(reply, qid, expected, message)
                self.assert_server_answers()

    def test_tcp(self):
        rng = random.Random(2)
        for name, message, expected in cases():
            with self.subTest(case=name, transport="tcp"):
                qid = harness.random_qid(rng)
                message = with_id(message, qid)
                with harness.tcp_connect(self.server) as s:
                    s.sendall(harness.tcp_frame(message))
                    if expected is NO_ANSWER:
                        try:
                            s.sendall(harness.tcp_frame(probe_query()))
                            reply = harness.tcp_recv_msg(s)
                        except (ConnectionResetError, BrokenPipeError):
                            reply = None  # the server dropped the connection: fine
                        if reply is not None:
                            self.assertEqual(harness.Header(reply).id, PROBE_ID,
                                             f"got a reply to the bad message: "
                                             f"{harness.Header(reply)}")
                    else:
                        try:
                            reply = harness.tcp_recv_msg(s)
                        except (socket.timeout, ConnectionResetError):
                            reply = None
                        self.assert_reply(reply, qid, expected, message)
                self.assert_server_answers()

    def test_random_garbage_blast(self):
        rng = random.Random(BLAST_SEED)
        valid = [harness.make_query(n, t).to_wire() for n, t in
                 ((QNAME, "A"), ("_erlang-dist._tcp.erl.internal.", "PTR"),
                  ("nosuch.erl.internal.", "SRV"))]
        replies = []
        with harness.udp_socket(self.server.host, timeout=0) as s:
            for i in range(BLAST_PACKETS):
                s.sendto(garbage(rng, valid), self.server.addrs[0])
                replies += drain(s)
        for reply in replies:
            self.assertGreaterEqual(len(reply), 12, f"seed {BLAST_SEED}: short reply")
            self.assertTrue(harness.Header(reply).qr, f"seed {BLAST_SEED}: reply without QR")
        for i in range(BLAST_TCP_CONNECTIONS):
            with harness.tcp_connect(self.server) as s:
                data = garbage(rng, valid)
                s.sendall(harness.tcp_frame(data) if i % 2 else data)
        self.assertTrue(self.server.alive(), f"seed {BLAST_SEED}\n" + self.server.describe())
        self.assert_server_answers()


def garbage(rng, valid):
    """Random bytes, a mutated valid query, or a valid header with a random tail."""
    kind = rng.randrange(3)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 600)))
    if kind == 1:
        msg = bytearray(rng.choice(valid))
        for _ in range(rng.randrange(1, 6)):
            msg[rng.randrange(len(msg))] = rng.randrange(256)
        return bytes(msg[:rng.randrange(len(msg) + 1)] if rng.random() < 0.3 else msg)
    return rng.choice(valid)[:12] + bytes(rng.randrange(256)
                                          for _ in range(rng.randrange(0, 80)))


def drain(sock):
    out = []
    while True:
        try:
            out.append(sock.recv(65535))
        except (BlockingIOError, socket.timeout):
            return out


if __name__ == "__main__":
    unittest.main()
