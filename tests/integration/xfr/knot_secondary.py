"""A Knot DNS secondary of one zone of epmdnsd, on loopback, for the transfer tests.

write_conf() writes the configuration into a directory of its own (run/, storage/,
knot.conf); start() runs knotd on it and waits for the zone. A test that restarts the
secondary calls start() again on the same directory: the storage (and the journal) stay.
"""

import os

import harness

SYNC_TIMEOUT = 15.0  # seconds for Knot's first transfer


def write_conf(cleanup, port, zone, primary_port, key=None, sign_transfers=True,
               notify_key=False, via=None, keep_journal=False, allow_transfer=False):
    """The directory holding a knot.conf for a secondary of `zone` on 127.0.0.1@port.

    key (harness.TsigKey): known to Knot; sign_transfers: its SOA queries and transfers are
    signed with it. NOTIFY is accepted from 127.0.0.1, or only signed with key (notify_key).
    via: the source address of its requests. keep_journal: the whole zone in the journal,
    nothing from a zone file (a restart resumes from the journal). allow_transfer: 127.0.0.1
    may transfer the zone from Knot, for comparisons.
    """
    workdir = harness.temp_dir(cleanup, "knotd-secondary-")
    rundir, storage = os.path.join(workdir, "run"), os.path.join(workdir, "storage")
    os.makedirs(rundir)
    os.makedirs(storage)
    keys = ""
    if key is not None:
        keys = (f"key:\n  - id: {key.name}\n    algorithm: {key.algorithm}\n"
                f"    secret: {key.secret_b64}\n")
    remote = f"remote:\n  - id: primary\n    address: 127.0.0.1@{primary_port}\n"
    if via is not None:
        remote += f"    via: {via}\n"
    if key is not None and sign_transfers:
        remote += f"    key: {key.name}\n"
    notify_from = f"    key: {key.name}\n" if notify_key else "    address: 127.0.0.1\n"
    acl = f"acl:\n  - id: notify_from_primary\n{notify_from}    action: notify\n"
    acls = ["notify_from_primary"]
    if allow_transfer:
        acl += "  - id: transfer_to_test\n    address: 127.0.0.1\n    action: transfer\n"
        acls.append("transfer_to_test")
    journal = ("    journal-content: all\n    zonefile-load: none\n" if keep_journal
               else "    journal-content: changes\n")
    with open(os.path.join(workdir, "knot.conf"), "w") as f:
        f.write(f"""\
server:
    rundir: "{rundir}"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{storage}"
log:
  - target: stderr
    any: info
{keys}{remote}{acl}template:
  - id: default
    storage: "{storage}"
    zonefile-sync: -1
{journal}zone:
  - domain: {zone}
    master: primary
    acl: [{", ".join(acls)}]
""")
    return workdir


def start(cleanup, workdir, port, zone, name="knotd", timeout=SYNC_TIMEOUT):
    """knotd on workdir's knot.conf, once it answers the SOA of zone (after its transfer)."""
    knot = harness.Server(name, [harness.require_tool("knotd"), "-c", os.path.join(workdir, "knot.conf")],
                          workdir, [("127.0.0.1", port)])
    cleanup(knot.stop)
    knot.wait_answers_soa(zone, timeout=timeout)
    return knot
