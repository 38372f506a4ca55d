"""The journal cannot be written: updates fail with SERVFAIL and change nothing.

Two ways to make writes fail:
  - a small tmpfs mounted for --state-dir and filled up (needs root; when the
    mount is not permitted the test uses the file-size limit instead), after
    which space is freed and updates work again;
  - epmdnsd started under `prlimit --fsize=BYTES` (it ignores SIGXFSZ, so the
    write fails with EFBIG), after which it is restarted without the limit.
Either way the server keeps answering queries, every update answered NOERROR
survives a restart and every one answered SERVFAIL left no trace, the SOA
serial included.
"""

import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

E = harness.BUNDLED_ORIGIN
MAX_ATTEMPTS = 200  # registrations sent at most before the journal must be full
TMPFS_SIZE = "128k"
BURST = 120  # registrations sent at once, so several batches are in the server together
BURST_WAIT = 10.0  # seconds for every answer of a burst


def mount_tmpfs(cleanup):
    """A fresh small tmpfs, unmounted at cleanup; None if mounting is not permitted."""
    path = harness.temp_dir(cleanup, "epmdns-tmpfs-")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700",
                        "tmpfs", path], capture_output=True, text=True)
    if p.returncode != 0:
        return None
    cleanup(subprocess.run, ["umount", "-l", path], capture_output=True)
    return path


def send_burst(server, messages, key, wave=8, gap=0.002):
    """Sends the UPDATEs on one UDP socket in waves of `wave`, `gap` seconds apart, without
    waiting for answers (so the server holds several batches at once), then collects the
    answers; returns the rcode text of each, in order. Raises HarnessError if one never comes."""
    wires = [harness.tsig_sign(bytes(harness.message_wire(m)), key)[0] for m in messages]
    ids = [int.from_bytes(w[:2], "big") for w in wires]
    if len(set(ids)) != len(ids):
        raise harness.HarnessError("burst message ids collide")
    rcodes = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        for n, w in enumerate(wires):
            if n > 0 and n % wave == 0:
                time.sleep(gap)
            s.sendto(w, (server.host, server.port))
        deadline = time.monotonic() + BURST_WAIT
        while len(rcodes) < len(wires):
            left = deadline - time.monotonic()
            if left <= 0:
                raise harness.HarnessError(f"{len(wires) - len(rcodes)} of {len(wires)} updates unanswered")
            s.settimeout(left)
            data = s.recv(65535)
            rcodes[int.from_bytes(data[:2], "big")] = harness.UpdateReply(data).rcode_text
    return [rcodes[i] for i in ids]


def fill(directory):
    """Writes a filler file until the file system is full; returns its path."""
    path = os.path.join(directory, "filler")
    chunk = b"\0" * 4096
    with open(path, "wb", buffering=0) as f:
        for _ in range(1 << 16):  # bounded: 256 MiB at most
            try:
                f.write(chunk)
            except OSError:
                break
        else:
            raise harness.HarnessError(f"{directory} never filled up")
    # The last page of a file can take a few more bytes.
    with open(path, "ab", buffering=0) as f:
        for _ in range(4096):
            try:
                f.write(b"\0")
            except OSError:
                break
    return path


class JournalFullTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.key = harness.TsigKey("journal-full.", "hmac-sha256")

    def node(self, tag, i):
        return harness.ErlangNode(f"{tag}{i}", f"{tag}-{i}.{E}", E, 6000 + i,
                                  f"10.60.{len(tag)}.{i}")

    def present(self, server, nodes):
        return harness.registrations_present(server, nodes)

    def run_until_failure(self, server, tag):
        """Registers nodes until one is answered SERVFAIL; returns (acked, failed node,
        serial before it)."""
        acked = []
        for i in range(MAX_ATTEMPTS):
            node = self.node(tag, i)
            serial = harness.soa_serial(server, E)
            reply = harness.send_update(server, node.register(), key=self.key)
            if reply.rcode_text == "SERVFAIL":
                self.assertTrue(reply.signed_ok, reply)
                return acked, node, serial
            self.assertEqual(reply.rcode_text, "NOERROR", reply)
            acked.append(node)
        self.fail(f"no SERVFAIL after {MAX_ATTEMPTS} registrations\n" + server.describe())

    def assert_failing_changes_nothing(self, server, tag, acked, failed, serial):
        """While writes fail: nothing changes, the serial stays, queries are answered."""
        with self.subTest(check="SOA serial unchanged by a SERVFAIL registration"):
            self.assertEqual(harness.soa_serial(server, E), serial,
                             "the SOA serial moved with a SERVFAIL update")
        self.assertFalse(any(self.present(server, [failed])[failed]),
                         f"a SERVFAIL registration left records: {failed.present(server)}")
        more = [self.node(tag + "x", i) for i in range(3)]
        for node in more:
            reply = harness.send_update(server, node.register(), key=self.key)
            self.assertEqual(reply.rcode_text, "SERVFAIL", reply)
        delete = harness.update_message(E)
        delete.delete("host1." + E)
        if acked:
            acked[0].delete_from(delete)
        reply = harness.send_update(server, delete, key=self.key)
        self.assertEqual(reply.rcode_text, "SERVFAIL", reply)
        with self.subTest(check="SOA serial unchanged by SERVFAIL updates"):
            self.assertEqual(harness.soa_serial(server, E), serial)
        self.assertEqual(harness.rdatas(server, "host1." + E, "A"), {"127.0.0.1"})
        present = self.present(server, acked + more)
        self.assertTrue(all(all(present[n]) for n in acked))
        self.assertFalse(any(any(present[n]) for n in more))
        self.assertTrue(server.alive(), server.describe())
        return more

    def test_full_file_system(self):
        mount = mount_tmpfs(self.addCleanup)
        if mount is None:  # not permitted here: the file-size limit makes writes fail
            return self.check_file_size_limit("fs")
        state_dir = os.path.join(mount, "state")
        server = harness.start_epmdnsd_updating(self.addCleanup, keys=[self.key],
                                                state_dir=state_dir)
        first = self.node("fs-first", 0)
        self.assertEqual(harness.send_update(server, first.register(), key=self.key).rcode_text,
                         "NOERROR")
        filler = fill(mount)
        acked, failed, serial = self.run_until_failure(server, "fs")
        acked.insert(0, first)
        more = self.assert_failing_changes_nothing(server, "fs", acked, failed, serial)
        # Space again: updates work again, from the serial they left.
        os.unlink(filler)
        again = self.node("fs-again", 0)
        reply = harness.send_update(server, again.register(), key=self.key)
        self.assertEqual(reply.rcode_text, "NOERROR", reply)
        with self.subTest(check="serial after the failures: one more than before them"):
            self.assertEqual(harness.soa_serial(server, E), serial + 1)
        # A restart replays exactly what was acknowledged.
        server, _ = harness.restart_epmdnsd(self.addCleanup, server)
        present = self.present(server, acked + [again, failed] + more)
        self.assertTrue(all(all(present[n]) for n in acked + [again]), present)
        self.assertFalse(any(any(present[n]) for n in [failed] + more), present)
        with self.subTest(check="serial after a restart"):
            self.assertEqual(harness.soa_serial(server, E), serial + 1)

    def test_burst_into_the_limit(self):
        """Many updates in the server at once while the journal hits its limit: the batch that
        fails to be written and any batch applied on top of it meanwhile are both taken back."""
        prlimit = harness.require_tool("prlimit")
        server = harness.start_epmdnsd_updating(self.addCleanup, keys=[self.key],
                                                wrapper=[prlimit, "--fsize=16384"])
        serial = harness.soa_serial(server, E)
        nodes = [self.node("burst", i) for i in range(BURST)]
        messages = [n.register(qid=1000 + i) for i, n in enumerate(nodes)]
        rcodes = send_burst(server, messages, self.key)
        acked = [n for n, r in zip(nodes, rcodes) if r == "NOERROR"]
        failed = [n for n, r in zip(nodes, rcodes) if r == "SERVFAIL"]
        self.assertEqual(len(acked) + len(failed), BURST, rcodes)
        self.assertGreater(len(acked), 0, rcodes)
        self.assertGreater(len(failed), 0, rcodes)
        self.assertEqual(harness.soa_serial(server, E), serial + len(acked),
                         "the serial counts exactly the acknowledged registrations")
        present = self.present(server, nodes)
        self.assertTrue(all(all(present[n]) for n in acked), present)
        self.assertFalse(any(any(present[n]) for n in failed), present)
        server, _ = harness.restart_epmdnsd(self.addCleanup, server, wrapper=())
        present = self.present(server, nodes)
        self.assertTrue(all(all(present[n]) for n in acked), "an acknowledged registration was lost")
        self.assertFalse(any(any(present[n]) for n in failed), "a SERVFAIL registration came back")
        self.assertEqual(harness.soa_serial(server, E), serial + len(acked))

    def test_file_size_limit(self):
        self.check_file_size_limit("fsize")

    def check_file_size_limit(self, tag):
        prlimit = harness.require_tool("prlimit")
        server = harness.start_epmdnsd_updating(self.addCleanup, keys=[self.key],
                                                wrapper=[prlimit, "--fsize=8192"])
        acked, failed, serial = self.run_until_failure(server, tag)
        self.assertGreater(len(acked), 0, "not one registration fitted in 8 KiB")
        more = self.assert_failing_changes_nothing(server, tag, acked, failed, serial)
        # Without the limit the same state directory takes updates again.
        server, _ = harness.restart_epmdnsd(self.addCleanup, server, wrapper=())
        present = self.present(server, acked + [failed] + more)
        self.assertTrue(all(all(present[n]) for n in acked), present)
        self.assertFalse(any(any(present[n]) for n in [failed] + more), present)
        with self.subTest(check="serial after a restart"):
            self.assertEqual(harness.soa_serial(server, E), serial)
        again = self.node(tag + "-again", 0)
        reply = harness.send_update(server, again.register(), key=self.key)
        self.assertEqual(reply.rcode_text, "NOERROR", reply)
        with self.subTest(check="serial after the failures: one more than before them"):
            self.assertEqual(harness.soa_serial(server, E), serial + 1)


if __name__ == "__main__":
    unittest.main()
