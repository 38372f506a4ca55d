"""epmdnsd refuses to start on broken zones and bad flags, saying exactly where."""

import os
import re
import socket
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

ZONES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zones")
ERROR_MARK = "; <- error"
FLAGS = ("--listen", "--zones", "--threads", "--max-udp-size", "--tcp-idle-timeout")


def error_line(path):
    """1-based number of the line carrying the ERROR_MARK comment."""
    with open(path) as f:
        lines = [i for i, text in enumerate(f, 1) if ERROR_MARK in text]
    assert len(lines) == 1, f"{path} must mark exactly one line with {ERROR_MARK!r}"
    return lines[0]


class ZoneErrorsTest(unittest.TestCase):
    def run_server(self, zones, cwd=None):
        port = harness.free_port()
        return harness.run_epmdnsd_to_exit(
            ["--listen", f"127.0.0.1:{port}", "--zones", zones], cwd=cwd)

    def assert_failed(self, p):
        self.assertGreater(p.returncode, 0,
                           f"expected an error exit, got {p.returncode}; stderr:\n{p.stderr}")
        self.assertNotIn(harness.READY_LINE, p.stderr)

    def assert_reports(self, p, path, line=None):
        """Exactly one stderr line 'epmdnsd: PATH:LINE: message' (LINE optional)."""
        self.assert_failed(p)
        about = [l for l in p.stderr.splitlines() if path in l]
        self.assertEqual(len(about), 1,
                         f"expected one stderr line naming {path}; stderr:\n{p.stderr}")
        where = re.escape(path) + (f":{line}" if line else r"(?::\d+)?")
        self.assertRegex(about[0], rf"^epmdnsd: {where}: \S")

    def test_errors_with_a_line(self):
        for name in ("syntax-bad-address.zone", "syntax-unknown-type.zone",
                     "syntax-short-srv.zone", "out-of-zone.zone",
                     "cname-and-other-data.zone"):
            with self.subTest(zone=name):
                path = os.path.join(ZONES, name)
                self.assert_reports(self.run_server(path), path, error_line(path))

    def test_relative_path_is_reported_as_given(self):
        name = "syntax-bad-address.zone"
        p = self.run_server(name, cwd=ZONES)
        self.assert_reports(p, name, error_line(os.path.join(ZONES, name)))
        self.assertNotIn(ZONES, p.stderr, "the path must be reported as given")

    def test_missing_soa(self):
        path = os.path.join(ZONES, "missing-soa.zone")
        self.assert_reports(self.run_server(path), path)

    def test_unreadable_path(self):
        path = os.path.join(harness.temp_dir(self.addCleanup), "no-such.zone")
        self.assert_reports(self.run_server(path), path)

    def test_directory_with_one_bad_file(self):
        directory = os.path.join(ZONES, "mixed-dir")
        bad = os.path.join(directory, "bad.test.zone")
        p = self.run_server(directory)
        self.assert_reports(p, bad, error_line(bad))
        self.assertNotIn("good-a", p.stderr)
        self.assertNotIn("good-b", p.stderr)


class FlagErrorsTest(unittest.TestCase):
    def assert_one_line_error(self, args):
        p = harness.run_epmdnsd_to_exit(args)
        self.assertGreater(p.returncode, 0,
                           f"{args}: expected an error exit, got {p.returncode}")
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, f"{args}: expected one stderr line:\n{p.stderr}")
        self.assertNotIn(harness.READY_LINE, p.stderr)

    def test_bad_flags_give_one_line(self):
        port = harness.free_port()
        listen = ["--listen", f"127.0.0.1:{port}"]
        for args in (["--threads", "abc"], ["--threads"], ["--listen", "nonsense"],
                     ["--listen", "127.0.0.1"], ["--listen", "127.0.0.1:99999"],
                     ["--listen", "[::1"], ["--max-udp-size", "abc"],
                     ["--tcp-idle-timeout", "abc"], ["--no-such-flag"], ["--zones"],
                     ["stray-argument"]):
            with self.subTest(args=args):
                extra = [] if args[0] == "--listen" else listen
                self.assert_one_line_error(extra + args)

    def test_help_mentions_every_flag(self):
        p = harness.run_epmdnsd_to_exit(["--help"])
        text = p.stdout + p.stderr
        for flag in FLAGS:  # epmdnsd accepts --a-b and --a_b alike; either spelling counts
            self.assertTrue(flag in text or flag.replace("-", "_").replace("__", "--") in text,
                            f"--help does not mention {flag}:\n{text}")
        self.assertNotIn(harness.READY_LINE, text)
        # GNU coding standards 4.8.2: --help prints usage, then exits successfully.
        self.assertEqual(p.returncode, 0, "--help should exit 0")

    def test_port_in_use_fails(self):
        port = harness.free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
            busy.bind(("127.0.0.1", port))
            p = harness.run_epmdnsd_to_exit(["--listen", f"127.0.0.1:{port}"])
        self.assertGreater(p.returncode, 0, f"expected an error exit:\n{p.stderr}")
        self.assertTrue(p.stderr.strip(), "expected a message on stderr")
        self.assertNotIn(harness.READY_LINE, p.stderr)


if __name__ == "__main__":
    unittest.main()
