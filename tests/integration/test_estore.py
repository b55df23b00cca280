"""The element store through a running CNode (`dase estore`): objects written land on two
DNodes' write buffers before they are acknowledged, read back byte-exact, survive a restart of
the whole cluster and the loss of one DNode, and bad input is refused cleanly."""
import hashlib

import dase_harness as h
from dase_harness import estore


def test_objects_round_trip_and_survive_restart_and_dnode_loss(make_cluster):
    rng = h.seeded_rng("estore round trip")
    cluster = make_cluster(drives={"scm_bytes": 512 << 20})
    objects = {}
    sizes = [0, 1, 4095, 4096, 4097, (4 << 20) - 1, 4 << 20, (4 << 20) + 1, 9 << 20]
    sizes += [rng.randrange(1, 200_000) for _ in range(10)]
    for i, size in enumerate(sizes):
        path = f"/bucket/dir{i % 3}/obj-{i}"
        data = rng.randbytes(size)
        estore(cluster, "put", path, data)
        objects[path] = hashlib.sha256(data).hexdigest()
    # Overwrite one: the new content replaces the old whole.
    replaced = rng.randbytes(12345)
    estore(cluster, "put", "/bucket/dir0/obj-0", replaced)
    objects["/bucket/dir0/obj-0"] = hashlib.sha256(replaced).hexdigest()

    def check_all(when):
        for path, digest in objects.items():
            got = estore(cluster, "get", path).stdout
            assert hashlib.sha256(got).hexdigest() == digest, f"{path} differs {when}"
        print(f"{len(objects)} objects byte-exact {when}")

    check_all("after put")
    listing = estore(cluster, "ls", "/bucket").stdout.decode()
    assert listing.split() == ["-", "dir0/", "-", "dir1/", "-", "dir2/"], listing

    cluster.down()
    cluster.up()
    check_all("after down/up")

    # One DNode lost: every chunk has a copy on another DNode.
    cluster.check_cli("dnode", "deactivate", "--name", "dnode-2")
    check_all("with dnode-2 down")
    cluster.check_cli("dnode", "activate", "--name", "dnode-2")


def test_remove_and_errors(cluster):
    estore(cluster, "put", "/d/f", b"x")
    assert estore(cluster, "get", "/d/missing", check=False).returncode == 1
    p = estore(cluster, "rm", "/d", check=False)
    assert p.returncode == 1 and b"not empty" in p.stderr, p.stderr
    estore(cluster, "rm", "/d/f")
    assert estore(cluster, "get", "/d/f", check=False).returncode == 1
    estore(cluster, "rm", "/d")
    for bad in ["/a/../b", "/", "/x/./y", "/" + "n" * 256]:
        p = estore(cluster, "put", bad, b"data", check=False)
        assert p.returncode == 1 and p.stderr, f"{bad!r} was accepted"
    # A file where a directory is needed, and the other way round.
    estore(cluster, "put", "/file", b"1")
    assert estore(cluster, "put", "/file/child", b"2", check=False).returncode == 1
    estore(cluster, "put", "/dir/child", b"3")
    assert estore(cluster, "put", "/dir", b"4", check=False).returncode == 1
    assert estore(cluster, "get", "/dir/child").stdout == b"3"
    # Nothing was written outside the data directory's own tree.
    names = {p.name for p in cluster.data_dir.iterdir()}
    assert names <= {"dase.toml", "admin.password", "run", "logs", "meta", "nodes", "vms"}, names


def test_full_write_buffer_refuses_cleanly_and_reads_keep_working(make_cluster):
    """Fill the cluster: 1 MiB objects go straight to stripes until the 32 MiB SSD drives are
    full (31 chunk slots each), then to the write buffer (a CNode's share of a 32 MiB buffer is
    8 MiB per DNode), which migration cannot empty into full drives. The put that does not fit
    fails with a clear NoSpace, leaves nothing visible, and earlier objects still read."""
    rng = h.seeded_rng("estore full buffer")
    cluster = make_cluster()
    stored = {}
    refused = None
    for i in range(64):
        data = rng.randbytes(1 << 20)
        p = estore(cluster, "put", f"/full/obj-{i}", data, check=False)
        if p.returncode != 0:
            refused = (f"/full/obj-{i}", p.stderr)
            break
        stored[f"/full/obj-{i}"] = data
    assert refused is not None, "64 MiB went into a 32 MiB write buffer"
    path, stderr = refused
    assert b"NoSpace" in stderr and b"write buffer" in stderr, stderr
    assert estore(cluster, "get", path, check=False).returncode == 1, f"{path} is visible"
    assert path.rsplit("/", 1)[1] not in estore(cluster, "ls", "/full").stdout.decode()
    for p, data in stored.items():
        assert estore(cluster, "get", p).stdout == data, f"{p} unreadable after the buffer filled"
    print(f"{len(stored)} objects stored, then {path} refused; all readable")
