"""DNS over TCP (RFC 7766): several and pipelined queries, idle timeout, abrupt clients."""

import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
import dns.message  # noqa: E402
import dns.rcode  # noqa: E402

E = harness.BUNDLED_ORIGIN
IDLE_TIMEOUT = 1  # seconds, passed to --tcp-idle-timeout
CLOSE_WAIT_BOUND = 10.0  # seconds we wait at most for the idle close


def query_wire(name, rdtype, qid):
    return harness.make_query(name, rdtype, qid=qid).to_wire()


class TcpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_epmdnsd(
            cls.addClassCleanup, hosts=("127.0.0.1", "::1"),
            args=["--tcp-idle-timeout", str(IDLE_TIMEOUT)])

    def connect(self, host="127.0.0.1"):
        s = harness.tcp_connect(host, self.server.port)
        self.addCleanup(s.close)
        return s

    def read_answer(self, sock):
        wire = harness.tcp_recv_msg(sock)
        self.assertIsNotNone(wire, "server closed the connection instead of answering")
        return dns.message.from_wire(wire)

    def assert_host1(self, r, qid):
        self.assertEqual(r.id, qid)
        self.assertEqual(r.rcode(), dns.rcode.NOERROR, r)
        self.assertEqual([rd.address for s in r.answer for rd in s], ["127.0.0.1"], r)

    def assert_server_answers(self):
        self.assertTrue(self.server.alive(), self.server.describe())
        r = harness.tcp_query(self.server, harness.make_query("host1." + E, "A"))
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        r = harness.udp_query(self.server, harness.make_query("host1." + E, "A"))
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)

    def test_several_queries_on_one_connection(self):
        for host in ("127.0.0.1", "::1"):
            with self.subTest(host=host):
                s = self.connect(host)
                for qid in (101, 102, 103, 104, 105):
                    s.sendall(harness.tcp_frame(query_wire("host1." + E, "A", qid)))
                    self.assert_host1(self.read_answer(s), qid)

    def test_pipelined_queries_in_one_write(self):
        queries = {201: ("host1." + E, "A"), 202: ("host2." + E, "A"),
                   203: ("nosuch." + E, "A")}
        s = self.connect()
        s.sendall(b"".join(harness.tcp_frame(query_wire(n, t, qid))
                           for qid, (n, t) in queries.items()))
        answers = {}
        for _ in queries:
            r = self.read_answer(s)
            answers[r.id] = r
        self.assertEqual(set(answers), set(queries))
        self.assert_host1(answers[201], 201)
        self.assertEqual([rd.address for x in answers[202].answer for rd in x], ["127.0.0.2"])
        self.assertEqual(answers[203].rcode(), dns.rcode.NXDOMAIN)

    def test_query_split_across_writes(self):
        s = self.connect()
        framed = harness.tcp_frame(query_wire("host1." + E, "A", 301))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(framed)):  # one byte per write
            s.sendall(framed[i:i + 1])
        self.assert_host1(self.read_answer(s), 301)

    def assert_closed_by_server(self, s):
        s.settimeout(CLOSE_WAIT_BOUND)
        try:
            data = s.recv(1)
        except ConnectionResetError:
            data = b""
        except socket.timeout:
            self.fail(f"connection still open {CLOSE_WAIT_BOUND}s after "
                      f"a {IDLE_TIMEOUT}s idle timeout")
        self.assertEqual(data, b"", "expected EOF from the server")

    def test_idle_connection_is_closed(self):
        s = self.connect()
        self.assert_closed_by_server(s)
        self.assert_server_answers()

    def test_idle_connection_is_closed_after_an_answer(self):
        s = self.connect()
        s.sendall(harness.tcp_frame(query_wire("host1." + E, "A", 401)))
        self.assert_host1(self.read_answer(s), 401)
        self.assert_closed_by_server(s)

    def test_abrupt_clients_do_not_crash_the_server(self):
        full = harness.tcp_frame(query_wire("host1." + E, "A", 501))
        for name, data in (("half a length prefix", b"\x00"),
                           ("a length prefix only", b"\x00\x1d"),
                           ("a partial message", full[:9]),
                           ("a zero length", b"\x00\x00"),
                           ("a length beyond the data", b"\xff\xff" + full[2:])):
            for how in ("close", "reset"):
                with self.subTest(sent=name, then=how):
                    s = harness.tcp_connect(self.server)
                    try:
                        s.sendall(data)
                        if how == "reset":  # RST instead of FIN
                            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                         b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    finally:
                        s.close()
                    self.assert_server_answers()

    def test_many_connections(self):
        socks = [self.connect() for _ in range(50)]
        for i, s in enumerate(socks):
            s.sendall(harness.tcp_frame(query_wire("host1." + E, "A", 600 + i)))
        for i, s in enumerate(socks):
            self.assert_host1(self.read_answer(s), 600 + i)


if __name__ == "__main__":
    unittest.main()
