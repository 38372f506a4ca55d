#!/usr/bin/python3
"""Makes the TSIG fixtures of tests/unit/wire/tsig_test.cc with the real BIND tools and dnspython.

  make_fixtures.py [--tsig-keygen PATH]   regenerate: keys by tsig-keygen, UPDATEs signed by
                                          nsupdate, responses signed by dnspython (and accepted
                                          by nsupdate, which checks their TSIG)
  make_fixtures.py --verify DIR           check with dnspython the messages that the C++ signer
                                          wrote when unit_tsig ran with EPMDNS_TSIG_DUMP_DIR=DIR

Debian 12 packages: tsig-keygen is in bind9 (`apt-get download bind9; dpkg-deb -x` is enough),
nsupdate in bind9-dnsutils, dnspython in python3-dnspython. Run once; the output is committed.
"""
import argparse
import base64
import pathlib
import re
import socket
import subprocess
import sys
import threading
from unittest import mock

import dns.message
import dns.name
import dns.rcode
import dns.tsig
import dns.version

HERE = pathlib.Path(__file__).resolve().parent
KEYS = [("hmac-sha1", "sha1-key"), ("hmac-sha256", "testkey"), ("hmac-sha512", "sha512-key")]
BADTIME_SKEW = 3600  # the BADTIME response pretends the server's clock is an hour ahead


def read_key(path):
    text = path.read_text()
    name = re.search(r'key\s+"([^"]+)"', text).group(1)
    algorithm = re.search(r"algorithm\s+([\w-]+);", text).group(1)
    secret = re.search(r'secret\s+"([^"]+)"', text).group(1)
    return dns.tsig.Key(name, base64.b64decode(secret), algorithm)


def u48(value):
    return value.to_bytes(6, "big")


def signed_at(when, make_wire):
    """Runs make_wire with dnspython's clock fixed at `when` (it signs with time.time())."""
    with mock.patch("time.time", return_value=float(when)):
        return make_wire()


def capture_update(key_file, key):
    """Runs nsupdate against a one-datagram UDP server; answers it with a dnspython-signed response."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(30)
    port = server.getsockname()[1]
    result = {}

    def serve():
        wire, peer = server.recvfrom(65535)
        request = dns.message.from_wire(wire, keyring={key.name: key})  # dnspython verifies it
        result["request"] = wire
        result["request_time"] = request.tsig[0].time_signed
        response = dns.message.make_response(request)
        response_time = result["request_time"] + 1
        result["response"] = signed_at(response_time, response.to_wire)
        result["response_time"] = response_time
        server.sendto(result["response"], peer)

    thread = threading.Thread(target=serve)
    thread.start()
    script = (f"server 127.0.0.1 {port}\nzone example.test.\n"
              "update add host.example.test. 300 IN A 192.0.2.1\nsend\n")
    done = subprocess.run(["nsupdate", "-k", str(key_file)], input=script, text=True,
                          capture_output=True, timeout=60)
    thread.join()
    server.close()
    if done.returncode != 0:
        sys.exit(f"nsupdate rejected the response: {done.stdout}{done.stderr}")
    return result


def badtime_response(request_wire, key, server_time):
    """RFC 8945 §5.2.3: NOTAUTH/BADTIME, signed at the request's time, the server's time in Other Data."""
    request = dns.message.from_wire(request_wire, keyring={key.name: key})
    response = dns.message.make_response(request)
    response.set_rcode(dns.rcode.NOTAUTH)
    response.use_tsig(key, tsig_error=dns.rcode.BADTIME, other_data=u48(server_time))
    response.request_mac = request.mac
    return signed_at(request.tsig[0].time_signed, response.to_wire)


def check_response(wire, key, request_mac, now):
    with mock.patch("time.time", return_value=float(now)):
        dns.message.from_wire(wire, keyring={key.name: key}, request_mac=request_mac)


def check_badtime(wire, key, request_mac, server_time):
    try:
        check_response(wire, key, request_mac, server_time)
    except dns.tsig.PeerBadTime:
        pass
    else:
        sys.exit("dnspython did not report BADTIME")
    # dnspython stops at the error code; check the MAC itself with its digest routine.
    with mock.patch("dns.tsig.validate"):
        message = dns.message.from_wire(wire, keyring={key.name: key}, request_mac=request_mac)
    rdata = message.tsig[0]
    tsig_start = find_tsig_start(wire, message)
    adcount = int.from_bytes(wire[10:12], "big") - 1
    body = wire[0:10] + adcount.to_bytes(2, "big") + wire[12:tsig_start]
    dns.tsig._digest(body, key, rdata, None, request_mac).verify(rdata.mac)
    if rdata.other != u48(server_time) or rdata.error != dns.rcode.BADTIME:
        sys.exit("bad BADTIME other data")


def find_tsig_start(wire, message):
    """Offset of the TSIG RR: the owner is written uncompressed by every signer used here."""
    owner = message.keyname.to_wire()
    start = wire.rfind(owner + b"\x00\xfa\x00\xff")
    if start < 0:
        sys.exit("TSIG owner not found")
    return start


def generate(tsig_keygen):
    for algorithm, name in KEYS:
        key_file = HERE / f"{algorithm}.key"
        text = subprocess.run([tsig_keygen, "-a", algorithm, name], check=True, capture_output=True,
                              text=True).stdout
        key_file.write_text(text)
        key = read_key(key_file)
        captured = capture_update(key_file, key)
        request_mac = dns.message.from_wire(captured["request"], keyring={key.name: key}).mac
        check_response(captured["response"], key, request_mac, captured["response_time"])
        server_time = captured["request_time"] + BADTIME_SKEW
        badtime = badtime_response(captured["request"], key, server_time)
        check_badtime(badtime, key, request_mac, server_time)
        (HERE / f"{algorithm}.txt").write_text(
            f"# {algorithm}.key by tsig-keygen; request by `nsupdate -k {algorithm}.key`;\n"
            f"# responses signed by dnspython {dns.version.version} (response accepted by nsupdate).\n"
            f"key_file {algorithm}.key\n"
            f"request_time {captured['request_time']}\n"
            f"request {captured['request'].hex()}\n"
            f"response_time {captured['response_time']}\n"
            f"response {captured['response'].hex()}\n"
            f"badtime_server_time {server_time}\n"
            f"badtime_response {badtime.hex()}\n")
        print(f"{algorithm}: key {name}, request signed at {captured['request_time']}")


def read_fields(path):
    fields = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            field, value = line.split(" ", 1)
            fields[field] = value
    return fields


def verify(dump_dir):
    checked = 0
    for algorithm, _ in KEYS:
        fixture = read_fields(HERE / f"{algorithm}.txt")
        key = read_key(HERE / fixture["key_file"])
        dumped = read_fields(pathlib.Path(dump_dir) / f"{algorithm}.txt")
        # A request signed in C++, as a client would send it.
        request = bytes.fromhex(dumped["signed_request"])
        with mock.patch("time.time", return_value=float(dumped["signed_request_time"])):
            request_mac = dns.message.from_wire(request, keyring={key.name: key}).mac
        # Responses signed in C++ to that request.
        check_response(bytes.fromhex(dumped["signed_response"]), key, request_mac,
                       int(dumped["signed_response_time"]))
        check_badtime(bytes.fromhex(dumped["badtime_response"]), key, request_mac,
                      int(dumped["badtime_server_time"]))
        checked += 3
        print(f"{algorithm}: C++ request, response and BADTIME response verified by dnspython")
    print(f"{checked} passed, 0 failed")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tsig-keygen", default="tsig-keygen")
    parser.add_argument("--verify", metavar="DIR")
    args = parser.parse_args()
    if args.verify:
        verify(args.verify)
    else:
        generate(args.tsig_keygen)


if __name__ == "__main__":
    main()
