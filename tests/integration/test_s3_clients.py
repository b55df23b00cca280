"""The S3 service through real command-line clients, awscli and s3cmd (each with a throw-away
configuration, never ~/.aws or ~/.s3cfg), checked by content hashes; and a VIP failing over to
another CNode while a boto3 client keeps reading through it. One cluster for the module."""
import hashlib
import json
import threading
import time

import botocore
import pytest

import dase_harness as h
import s3_harness as s3h

MiB = 1 << 20


class Env:
    pass


@pytest.fixture(scope="module")
def s3(tmp_path_factory, request):
    data_dir = tmp_path_factory.mktemp("s3clients") / "c"
    h.write_config(data_dir, restart=h.FAST_RESTART, name="s3clients",
                   drives={"scm_bytes": 64 << 20, "ssd_bytes": 128 << 20},
                   estore={"sweep_every_ms": 1000})
    c = h.Cluster(data_dir)
    failed_before = request.session.testsfailed
    c.up()
    env = Env()
    env.cluster = c
    env.port = s3h.s3_port(c)
    env.vips = s3h.vips(c)
    env.ak, env.sk = s3h.make_user(c, "cli")
    env.work = tmp_path_factory.mktemp("s3clients-work")
    s3h.wait_vips_settled(c, env.port)
    yield env
    if request.session.testsfailed > failed_before and (c.data_dir / "logs").is_dir():
        print(c.log_tails(60))
    problems = h.teardown_cluster(c)
    if problems:
        pytest.fail("stopping the cluster went wrong:\n" + "\n".join(problems))


def write_random(path, size, rng):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 4 * MiB)
            f.write(rng.randbytes(n))
            left -= n
    return s3h.sha256_file(path)


def tree_hashes(root):
    return {str(p.relative_to(root)): s3h.sha256_file(p)
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_awscli(s3, tmp_path):
    rng = h.seeded_rng("awscli")
    aws = s3h.AwsCli(s3.work, s3.vips[1], s3.port, s3.ak, s3.sk)
    b = "cli-aws"
    aws("s3", "mb", f"s3://{b}")
    assert b in aws("s3", "ls").out

    small = tmp_path / "small.txt"
    small_hash = write_random(small, 1000, rng)
    aws("s3", "cp", "--no-progress", small, f"s3://{b}/dir/small.txt")
    # 40 MiB with default settings: a multipart upload of 8 MiB parts.
    big = tmp_path / "big.bin"
    big_hash = write_random(big, 40 * MiB, rng)
    aws("s3", "cp", "--no-progress", big, f"s3://{b}/dir/big.bin")
    listing = aws("s3", "ls", f"s3://{b}/dir/").out
    assert "small.txt" in listing and "big.bin" in listing and str(40 * MiB) in listing, listing
    head = json.loads(aws("s3api", "head-object", "--bucket", b, "--key", "dir/big.bin").out)
    assert head["ContentLength"] == 40 * MiB and head["ETag"].endswith('-5"'), head
    down = tmp_path / "down"
    aws("s3", "cp", "--no-progress", f"s3://{b}/dir/big.bin", down / "big.bin")
    aws("s3", "cp", "--no-progress", f"s3://{b}/dir/small.txt", down / "small.txt")
    assert s3h.sha256_file(down / "big.bin") == big_hash
    assert s3h.sha256_file(down / "small.txt") == small_hash

    # sync up, down, an incremental sync, and --delete.
    tree = tmp_path / "tree"
    for i in range(15):
        write_random(tree / f"d{i % 3}" / f"sub{i % 2}" / f"f{i}.dat", rng.randrange(1, 300_000),
                     rng)
    write_random(tree / "top.dat", 12345, rng)
    aws("s3", "sync", "--no-progress", tree, f"s3://{b}/tree/")
    back = tmp_path / "back"
    aws("s3", "sync", "--no-progress", f"s3://{b}/tree/", back)
    assert tree_hashes(back) == tree_hashes(tree)
    write_random(tree / "d1" / "sub1" / "f1.dat", 777, rng)  # changed size: re-uploaded
    (tree / "top.dat").unlink()
    out = aws("s3", "sync", "--no-progress", "--delete", tree, f"s3://{b}/tree/").out
    assert out.count("upload:") == 1 and out.count("delete:") == 1, out
    back2 = tmp_path / "back2"
    aws("s3", "sync", "--no-progress", f"s3://{b}/tree/", back2)
    assert tree_hashes(back2) == tree_hashes(tree)

    # s3api.
    meta = tmp_path / "meta.bin"
    meta_hash = write_random(meta, 50_000, rng)
    put = json.loads(aws("s3api", "put-object", "--bucket", b, "--key", "api/obj",
                         "--body", meta, "--metadata", "color=green",
                         "--content-type", "text/x-cli").out)
    assert put["ETag"].strip('"') == hashlib.md5(meta.read_bytes()).hexdigest(), put
    got = json.loads(aws("s3api", "get-object", "--bucket", b, "--key", "api/obj",
                         tmp_path / "meta.out").out)
    assert got["Metadata"] == {"color": "green"} and got["ContentType"] == "text/x-cli", got
    assert s3h.sha256_file(tmp_path / "meta.out") == meta_hash
    listed = json.loads(aws("s3api", "list-objects-v2", "--bucket", b, "--prefix", "tree/",
                            "--delimiter", "/").out)
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == \
        ["tree/d0/", "tree/d1/", "tree/d2/"], listed
    aws("s3api", "delete-object", "--bucket", b, "--key", "api/obj")
    p = aws("s3api", "head-object", "--bucket", b, "--key", "api/obj", check=False)
    assert p.returncode != 0 and "404" in p.err, p.err
    p = aws("s3", "ls", "s3://no-such-cli-bucket", check=False)
    assert p.returncode != 0 and "NoSuchBucket" in p.err, p.err

    aws("s3", "rm", "--recursive", f"s3://{b}/")
    assert aws("s3", "ls", f"s3://{b}/", check=False).out.strip() == ""
    aws("s3", "rb", f"s3://{b}")
    assert b not in aws("s3", "ls").out


def test_s3cmd(s3, tmp_path):
    rng = h.seeded_rng("s3cmd")
    s3cmd = s3h.S3cmd(s3.work, s3.vips[2], s3.port, s3.ak, s3.sk)
    b = "cli-s3cmd"
    s3cmd("mb", f"s3://{b}")
    assert f"s3://{b}" in s3cmd("ls").out
    small = tmp_path / "small.txt"
    small_hash = write_random(small, 2000, rng)
    s3cmd("put", small, f"s3://{b}/docs/small.txt")
    big = tmp_path / "big.bin"
    big_hash = write_random(big, 23 * MiB, rng)
    s3cmd("put", "--multipart-chunk-size-mb=5", big, f"s3://{b}/docs/big.bin")
    listing = s3cmd("ls", f"s3://{b}/docs/").out
    assert f"s3://{b}/docs/small.txt" in listing and f"s3://{b}/docs/big.bin" in listing, listing
    assert f"s3://{b}/docs/" in s3cmd("ls", f"s3://{b}/").out
    s3cmd("get", "--force", f"s3://{b}/docs/small.txt", tmp_path / "small.out")
    s3cmd("get", "--force", f"s3://{b}/docs/big.bin", tmp_path / "big.out")
    assert s3h.sha256_file(tmp_path / "small.out") == small_hash
    assert s3h.sha256_file(tmp_path / "big.out") == big_hash
    c = s3h.client(s3.port, s3.ak, s3.sk)
    etag = c.head_object(Bucket=b, Key="docs/big.bin")["ETag"]
    assert etag.endswith('-5"'), etag  # 23 MiB in 5 MiB parts
    s3cmd("del", f"s3://{b}/docs/small.txt")
    s3cmd("del", f"s3://{b}/docs/big.bin")
    assert s3cmd("ls", "--recursive", f"s3://{b}").out.strip() == ""
    p = s3cmd("get", f"s3://{b}/docs/small.txt", tmp_path / "gone", check=False)
    assert p.returncode != 0, p.out
    s3cmd("rb", f"s3://{b}")
    assert f"s3://{b}" not in s3cmd("ls").out


def test_vip_failover_while_a_client_reads(s3):
    """The CNode holding the VIP a client reads through is deactivated: the VIP moves to
    another CNode and the client's reads (retried) go on, byte-exact."""
    rng = h.seeded_rng("vip failover")
    cluster = s3.cluster
    vip = s3.vips[0]
    holder = s3h.vip_holders(cluster)[vip]
    b = "failover"
    setup = s3h.client(s3.port, s3.ak, s3.sk, vip=s3.vips[-1])
    setup.create_bucket(Bucket=b)
    data = rng.randbytes(3 * MiB + 1)
    setup.put_object(Bucket=b, Key="obj", Body=data)

    reads = []  # monotonic time of every good read
    errors, wrong = [], []
    stop = threading.Event()

    def reader():
        c = s3h.client(s3.port, s3.ak, s3.sk, vip=vip, retries=5, connect_timeout=5)
        while not stop.is_set():
            try:
                body = c.get_object(Bucket=b, Key="obj")["Body"].read()
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
                errors.append(f"{time.strftime('%H:%M:%S')} {type(e).__name__}: {e}")
                time.sleep(0.2)
                continue
            if body == data:
                reads.append(time.monotonic())
            else:
                wrong.append(f"{len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()}")

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        h.wait_until(lambda: len(reads) >= 5, h.WAIT_S, "reads through the VIP")
        task = cluster.patch_enabled(holder, False)
        assert cluster.wait_vtask(task["id"])["state"] == "COMPLETED"
        cluster.wait_node_state(holder, "INACTIVE")
        new_holder = h.wait_until(
            lambda: (n := s3h.vip_holders(cluster)[vip]) != holder and n, h.WAIT_S,
            f"{vip} to move off {holder}")
        moved = time.monotonic()
        h.wait_until(lambda: sum(t > moved for t in reads) >= 10, h.WAIT_S,
                     f"reads through {vip} on {new_holder}")
        resumed = min(t for t in reads if t > moved) - moved
        print(f"{vip} moved from {holder} to {new_holder}; reads resumed {resumed:.2f} s after "
              f"`dase status` showed the move; {len(errors)} failed attempts meanwhile")
        task = cluster.patch_enabled(holder, True)
        assert cluster.wait_vtask(task["id"])["state"] == "COMPLETED"
        cluster.wait_healthy()
        back = time.monotonic()
        h.wait_until(lambda: sum(t > back for t in reads) >= 5, h.WAIT_S,
                     f"reads through {vip} after {holder} came back")
    finally:
        stop.set()
        thread.join(timeout=h.HTTP_TIMEOUT_S * 4)
    assert not wrong, f"wrong bytes served through {vip}: {wrong[:5]}"
    print(f"{len(reads)} byte-exact reads; failed attempts (retried): {errors[:10]}")
