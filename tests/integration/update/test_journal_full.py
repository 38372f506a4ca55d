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
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

E = harness.BUNDLED_ORIGIN
MAX_ATTEMPTS = 200  # registrations sent at most before the journal must be full
TMPFS_SIZE = "128k"


def mount_tmpfs(cleanup):
    """A fresh small tmpfs, unmounted at cleanup; None if mounting is not permitted."""
    path = harness.temp_dir(cleanup, "epmdns-tmpfs-")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700",
                        "tmpfs", path], capture_output=True, text=True)
    if p.returncode != 0:
        return None
    cleanup(subprocess.run, ["umount", "-l", path], capture_output=True)
    return path


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
