"""Erasure-coded stripes on the real processes: buffered data migrates into 12+4 stripes on the
DNodes' SSD drives (and large objects go there directly); with a DNode gone for good every
object still reads byte-exact (rebuilt from parity); bit rot in stripe chunks is rebuilt or
refused, never served; overwritten and deleted data gives its space back."""
import hashlib

import dase_harness as h
from dase_harness import estore


def capacity(cluster):
    code, doc = cluster.status()
    assert code == 0 and doc is not None, "dase status --json failed"
    return doc["capacity"]


def wait_migrated(cluster):
    """Until no chunk waits in the write buffer and stripes hold the data (the VMS measures at
    most once a second, so an early answer may predate the writes)."""
    def migrated():
        cap = capacity(cluster)
        return cap["write_buffer_chunks"] == 0 and cap["stripes"] > 0
    h.wait_until(migrated, 30, "every buffered chunk to migrate into stripes", interval=0.5)
    return capacity(cluster)


def put_mixed(cluster, rng, count, prefix):
    objects = {}
    for i in range(count):
        size = rng.choice([1, 4096, 70_000, rng.randrange(1, 400_000), rng.randrange(600_000, 3 << 20)])
        data = rng.randbytes(size)
        estore(cluster, "put", f"{prefix}/obj-{i}", data)
        objects[f"{prefix}/obj-{i}"] = data
    return objects


def ssd_drives(cluster, dnode):
    return sorted((cluster.data_dir / "nodes" / dnode / "drives").glob("ssd-*"))


def test_migrated_objects_survive_a_dnode_lost_for_good(make_cluster):
    rng = h.seeded_rng("stripes dnode loss")
    cluster = make_cluster()
    objects = put_mixed(cluster, rng, 30, "/mig")
    cap = wait_migrated(cluster)
    assert cap["stripes"] >= 1 and cap["physical_space_in_use"] > 0, cap
    cluster.check_cli("dnode", "deactivate", "--name", "dnode-3")
    cluster.wait_node_state("dnode-3", "INACTIVE")
    code, doc = cluster.status()
    assert doc["cluster"]["ssd_raid_state"] == "DEGRADED", doc["cluster"]
    for path, data in objects.items():
        assert estore(cluster, "get", path).stdout == data, f"{path} differs with dnode-3 gone"
    # New writes still work with three DNodes (8+4 stripes) and read back.
    more = put_mixed(cluster, rng, 6, "/mig3")
    for path, data in more.items():
        assert estore(cluster, "get", path).stdout == data, f"{path} differs (written degraded)"
    print(f"{len(objects)} objects in {cap['stripes']} stripes byte-exact with dnode-3 gone; "
          f"{len(more)} written and read back on three DNodes")


def test_bit_rot_in_stripes_is_rebuilt_or_refused(make_cluster):
    rng = h.seeded_rng("stripes bit rot")
    cluster = make_cluster()
    objects = put_mixed(cluster, rng, 24, "/rot")
    wait_migrated(cluster)
    flipped = sum(h.flip_bits_in_data(d) for d in ssd_drives(cluster, "dnode-1"))
    assert flipped > 0, "no stripe chunk on dnode-1 to damage"
    for path, data in objects.items():
        assert estore(cluster, "get", path).stdout == data, f"{path}: wrong bytes after rot on one DNode"
    # Two DNodes rotten: up to 8 damaged chunks per stripe, more than 4 parity chunks repair.
    flipped += sum(h.flip_bits_in_data(d) for d in ssd_drives(cluster, "dnode-2"))
    refused = h.read_exact_or_refused(cluster, objects, (b"Corruption",),
                                      "after rot on two DNodes")
    print(f"{flipped} bits flipped in stripe chunks: one DNode rotten, all {len(objects)} reads "
          f"rebuilt; two DNodes rotten, {refused} refused, the rest byte-exact; 0 wrong bytes")


def test_overwritten_and_deleted_data_gives_space_back(make_cluster):
    """16 MiB SSD drives hold 15 chunk slots each: 15 stripes in the whole cluster. Writing ten
    times that, overwriting and deleting, only works if freed stripes are reused."""
    rng = h.seeded_rng("stripes reclaim")
    cluster = make_cluster(drives={"ssd_bytes": 16 << 20}, estore={"sweep_every_ms": 200})
    current = {}
    for i in range(150):
        path = f"/re/obj-{i % 5}"
        data = rng.randbytes(rng.randrange(600_000, 2 << 20))
        estore(cluster, "put", path, data)  # straight to a stripe of its own
        current[path] = data
        if i % 7 == 6:
            estore(cluster, "rm", path)
            del current[path]
    for path, data in current.items():
        assert estore(cluster, "get", path).stdout == data, f"{path} differs"
    h.wait_until(lambda: capacity(cluster)["stripes"] <= len(current), 30,
                 "stripes of replaced and deleted objects to be freed", interval=0.5)
    print(f"150 puts of 0.6-2 MiB into 15 stripes' worth of SSD; "
          f"{capacity(cluster)['stripes']} stripes held at the end for {len(current)} objects")
