"""Element-store data under faults on the real processes: every process of the cluster killed
at once (acknowledged objects must survive), and bit rot in DNode drive files (a corrupt copy
is detected and the other copy served; with both copies corrupt the read fails; wrong bytes
are never returned)."""
import hashlib
import os
import signal

import dase_harness as h
from dase_harness import estore


def put_objects(cluster, rng, count):
    """Objects under 512 KiB: they go to the write buffer, not straight to stripes."""
    objects = {}
    for i in range(count):
        data = rng.randbytes(rng.choice([1, 4096, 65536, rng.randrange(1, 300_000)]))
        estore(cluster, "put", f"/faults/obj-{i}", data)
        objects[f"/faults/obj-{i}"] = data
    return objects


def test_kill_every_process_at_once_loses_no_acknowledged_object(make_cluster):
    rng = h.seeded_rng("kill all")
    cluster = make_cluster(drives={"scm_bytes": 256 << 20})
    objects = put_objects(cluster, rng, 20)
    monitor = cluster.monitor_pid()
    pids = [monitor] + h.children_of(monitor)
    assert len(pids) == 10, f"expected monitor + VMS + 8 nodes, found {pids}"
    for pid in pids:  # as close to a simultaneous crash as signals get
        os.kill(pid, signal.SIGKILL)
    h.wait_until(lambda: not any(h.pid_alive(p) for p in pids), 30, "every process to die")
    cluster.up()
    for path, data in objects.items():
        assert estore(cluster, "get", path).stdout == data, f"{path} changed after kill -9 of all"
    print(f"kill -9 of {len(pids)} processes: {len(objects)} acknowledged objects, 0 lost")


def test_bit_rot_is_detected_and_never_served(make_cluster):
    rng = h.seeded_rng("bit rot")
    # Migration held off, so the objects stay in the write buffer this test damages (stripes
    # have their own bit-rot test in test_stripes.py).
    cluster = make_cluster(drives={"scm_bytes": 256 << 20}, estore={"flush_after_ms": 3_600_000})
    objects = put_objects(cluster, rng, 24)
    buffers = [cluster.data_dir / "nodes" / f"dnode-{i}" / "drives" / "scm-0" for i in range(1, 5)]
    holding = [b for b in buffers if h.read_allocated(b)[4096:].strip(b"\0")]
    assert len(holding) >= 2, f"chunks landed on fewer than two DNodes: {holding}"
    flipped = h.flip_bits_in_data(holding[0])
    assert flipped > 0, f"nothing to flip in {holding[0]}"
    for path, data in objects.items():
        got = estore(cluster, "get", path).stdout
        assert got == data, f"{path}: wrong bytes served after bit rot on one copy"
    flipped += h.flip_bits_in_data(holding[1])
    refused = h.read_exact_or_refused(cluster, objects, (b"Corruption", b"NotFound"),
                                      "after bit rot on two DNodes")
    print(f"{flipped} bits flipped; with two DNodes rotten {refused} of {len(objects)} reads "
          f"refused, the rest byte-exact; 0 wrong bytes served")
