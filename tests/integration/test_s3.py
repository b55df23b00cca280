"""The S3 protocol of the CNodes, driven by boto3 (and, for what boto3 will not send, by signed
raw requests) against one real cluster per module: every bucket, object, listing and multipart
operation with its error cases, checksums, authentication, presigned URLs through curl, every
VIP, virtual-host-style addressing, atomic overwrites, the mapping of keys to the namespace, and
bad input (which must get S3 errors, never a crash or a file outside the data directory).

Each test uses buckets of its own. The 1 GiB multipart upload runs last (DASE_S3_BIG=0 skips
it). Every answer is checked against what AWS S3 answers."""
import base64
import datetime
import hashlib
import io
import os
import random
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

import boto3
import botocore
import pytest
import requests
from boto3.s3.transfer import TransferConfig
from botocore import UNSIGNED

import dase_harness as h
import s3_harness as s3h
from s3_harness import client_error

MiB = 1 << 20


class S3Env:
    def __init__(self, cluster):
        self.cluster = cluster
        self.port = s3h.s3_port(cluster)
        self.vips = s3h.vips(cluster)
        self.keys = {}  # user -> (access key, secret key)

    def client(self, user="alice", vip=None, style="path", **config):
        ak, sk = self.keys[user]
        return s3h.client(self.port, ak, sk, vip=vip or self.vips[0], style=style, **config)

    def raw(self, user="alice", vip=None):
        ak, sk = self.keys[user]
        return s3h.RawS3(vip or self.vips[0], self.port, ak, sk)

    def bucket(self, name, user="alice"):
        self.client(user).create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="module")
def s3(tmp_path_factory, request):
    data_dir = tmp_path_factory.mktemp("s3") / "c"
    # SSD stripes hold 12 MiB of data each and an object of 512 KiB or more takes stripes of
    # its own until it is replaced and swept: 384 MiB drives give 383 stripes, enough for the
    # 1 GiB upload next to everything else. The drives are sparse files.
    h.write_config(data_dir, restart=h.FAST_RESTART, name="s3",
                   drives={"scm_bytes": 64 << 20, "ssd_bytes": 384 << 20},
                   estore={"sweep_every_ms": 1000})
    c = h.Cluster(data_dir)
    failed_before = request.session.testsfailed
    c.up()
    env = S3Env(c)
    env.keys["alice"] = s3h.make_user(c, "alice")
    env.keys["bob"] = s3h.make_user(c, "bob")
    env.keys["carol"] = s3h.make_user(c, "carol", create_bucket=False, delete_bucket=False)
    env.keys["root"] = s3h.make_user(c, "root", superuser=True)
    s3h.wait_vips_settled(c, env.port)
    env.baseline = s3h.node_fingerprint(c)
    yield env
    if request.session.testsfailed > failed_before and (c.data_dir / "logs").is_dir():
        print(c.log_tails(60))
    problems = h.teardown_cluster(c)
    if problems:
        pytest.fail("stopping the cluster went wrong:\n" + "\n".join(problems))


def body_of(r):
    return r["Body"].read()


def put_many(client, bucket, items, threads=6):
    """items: {key: bytes}; puts them in parallel."""
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(lambda kv: client.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]),
                    items.items()))


def list_keys(client, bucket, prefix=""):
    out = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out += [o["Key"] for o in page.get("Contents", [])]
    return out


# ---------------------------------------------------------------------------------------------
# Buckets


def test_bucket_lifecycle(s3):
    alice, bob, root = s3.client("alice"), s3.client("bob"), s3.client("root")
    assert alice.create_bucket(Bucket="bl-one")["ResponseMetadata"]["HTTPStatusCode"] == 200
    alice.create_bucket(Bucket="bl-two")
    bob.create_bucket(Bucket="bl-bob")
    listed = alice.list_buckets()
    names = [b["Name"] for b in listed["Buckets"]]
    assert "bl-one" in names and "bl-two" in names and "bl-bob" not in names, names
    assert names == sorted(names), names
    assert all(isinstance(b["CreationDate"], datetime.datetime) for b in listed["Buckets"])
    assert listed["Owner"]["ID"], listed["Owner"]
    assert "bl-bob" in [b["Name"] for b in bob.list_buckets()["Buckets"]]
    assert {"bl-one", "bl-bob"} <= {b["Name"] for b in root.list_buckets()["Buckets"]}

    assert alice.head_bucket(Bucket="bl-one")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert client_error(alice.head_bucket, Bucket="bl-missing")[:2] == ("404", 404)
    assert client_error(bob.head_bucket, Bucket="bl-one")[:2] == ("403", 403)
    loc = alice.get_bucket_location(Bucket="bl-one")
    assert loc.get("LocationConstraint") in (None, ""), loc

    # Creating it again: us-east-1 answers 200 to its owner (elsewhere 409 ...OwnedByYou);
    # another user gets BucketAlreadyExists.
    try:
        alice.create_bucket(Bucket="bl-one")
    except botocore.exceptions.ClientError as e:
        assert s3h.error_code(e) == "BucketAlreadyOwnedByYou" and s3h.http_status(e) == 409, e
    assert client_error(bob.create_bucket, Bucket="bl-one")[:2] == ("BucketAlreadyExists", 409)

    alice.put_object(Bucket="bl-one", Key="dir/obj", Body=b"x")
    assert client_error(alice.delete_bucket, Bucket="bl-one")[:2] == ("BucketNotEmpty", 409)
    assert body_of(alice.get_object(Bucket="bl-one", Key="dir/obj")) == b"x"
    alice.delete_object(Bucket="bl-one", Key="dir/obj")
    assert alice.delete_bucket(Bucket="bl-one")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert client_error(alice.head_bucket, Bucket="bl-one")[:2] == ("404", 404)
    assert client_error(alice.delete_bucket, Bucket="bl-one")[:2] == ("NoSuchBucket", 404)
    assert client_error(alice.list_objects_v2, Bucket="bl-one")[:2] == ("NoSuchBucket", 404)
    assert "bl-one" not in [b["Name"] for b in alice.list_buckets()["Buckets"]]
    # The name is free again, for anyone.
    bob.create_bucket(Bucket="bl-one")
    assert client_error(alice.list_objects_v2, Bucket="bl-one")[:2] == ("AccessDenied", 403)
    bob.delete_bucket(Bucket="bl-one")


def test_bucket_creation_refusals(s3):
    carol = s3.client("carol")
    assert client_error(carol.create_bucket, Bucket="carols-bucket")[:2] == ("AccessDenied", 403)
    raw = s3.raw("alice")
    bad = ["ab", "a" * 64, "UPPER", "bad_name", "-abc", "abc-", ".abc", "abc.", "a..b",
           "192.168.1.1", "xn--abc", "a b", "sthree-abc"]
    for name in bad:
        r = raw.request("PUT", path="/" + s3h.uri_encode(name))
        assert (r.status, r.code) == (400, "InvalidBucketName"), f"bucket {name!r}: {r}"
    for name in ("ab", "UPPER", "a" * 64):  # names botocore's own check lets through
        assert client_error(s3.client().create_bucket, Bucket=name)[:2] == \
            ("InvalidBucketName", 400), name
    names = {b["Name"] for b in s3.client("root").list_buckets()["Buckets"]}
    assert not names & set(bad), names
    assert "carols-bucket" not in names


# ---------------------------------------------------------------------------------------------
# Objects


def test_put_get_head_delete(s3):
    c = s3.client()
    b = s3.bucket("obj-basic")
    data = random.Random(1).randbytes(100_000)
    r = c.put_object(Bucket=b, Key="docs/report.bin", Body=data, ContentType="text/x-test",
                     Metadata={"color": "blue", "Mixed-Case": "Value With Spaces"},
                     CacheControl="max-age=60", ContentDisposition="attachment")
    assert r["ETag"] == f'"{s3h.md5_hex(data)}"', r["ETag"]
    got = c.get_object(Bucket=b, Key="docs/report.bin")
    assert body_of(got) == data
    assert got["ETag"] == r["ETag"] and got["ContentLength"] == len(data)
    assert got["ContentType"] == "text/x-test"
    assert got["Metadata"] == {"color": "blue", "mixed-case": "Value With Spaces"}, got["Metadata"]
    assert got["CacheControl"] == "max-age=60" and got["ContentDisposition"] == "attachment"
    assert isinstance(got["LastModified"], datetime.datetime)
    head = c.head_object(Bucket=b, Key="docs/report.bin")
    assert head["ContentLength"] == len(data) and head["ETag"] == r["ETag"]
    assert head["Metadata"] == got["Metadata"] and head["ContentType"] == "text/x-test"

    # No content type given: S3's default.
    c.put_object(Bucket=b, Key="plain", Body=b"p")
    assert c.head_object(Bucket=b, Key="plain")["ContentType"] in ("binary/octet-stream",
                                                                   "application/octet-stream")
    # Overwrite: the new object replaces the old one whole, metadata included.
    c.put_object(Bucket=b, Key="docs/report.bin", Body=b"short")
    got = c.get_object(Bucket=b, Key="docs/report.bin")
    assert body_of(got) == b"short" and got["Metadata"] == {}, got["Metadata"]

    # Content-MD5.
    md5 = base64.b64encode(hashlib.md5(b"checked").digest()).decode()
    c.put_object(Bucket=b, Key="md5", Body=b"checked", ContentMD5=md5)
    code, status, _ = client_error(c.put_object, Bucket=b, Key="md5", Body=b"tampered",
                                   ContentMD5=md5)
    assert (code, status) == ("BadDigest", 400)
    code, status, _ = client_error(c.put_object, Bucket=b, Key="md5-new", Body=b"x",
                                   ContentMD5="bm90LWFuLW1kNQ==")
    assert (code, status) == ("InvalidDigest", 400)
    assert body_of(c.get_object(Bucket=b, Key="md5")) == b"checked"
    assert client_error(c.head_object, Bucket=b, Key="md5-new")[:2] == ("404", 404)

    # User metadata over 2 KiB.
    code, status, _ = client_error(c.put_object, Bucket=b, Key="meta", Body=b"x",
                                   Metadata={"big": "v" * 2100})
    assert (code, status) == ("MetadataTooLarge", 400)

    # Delete, and the errors around missing things.
    assert c.delete_object(Bucket=b, Key="docs/report.bin")["ResponseMetadata"][
        "HTTPStatusCode"] == 204
    assert client_error(c.get_object, Bucket=b, Key="docs/report.bin")[:2] == ("NoSuchKey", 404)
    assert client_error(c.head_object, Bucket=b, Key="docs/report.bin")[:2] == ("404", 404)
    assert c.delete_object(Bucket=b, Key="docs/report.bin")["ResponseMetadata"][
        "HTTPStatusCode"] == 204  # deleting what is not there succeeds
    assert client_error(c.get_object, Bucket="no-such-bucket-x", Key="k")[:2] == \
        ("NoSuchBucket", 404)
    assert client_error(c.put_object, Bucket="no-such-bucket-x", Key="k", Body=b"")[:2] == \
        ("NoSuchBucket", 404)
    assert sorted(list_keys(c, b)) == ["md5", "plain"]


def test_zero_byte_object(s3):
    c = s3.client()
    b = s3.bucket("obj-empty")
    r = c.put_object(Bucket=b, Key="empty", Body=b"")
    assert r["ETag"] == f'"{s3h.md5_hex(b"")}"'
    got = c.get_object(Bucket=b, Key="empty")
    assert body_of(got) == b"" and got["ContentLength"] == 0


def test_put_after_an_empty_put_on_one_connection(s3):
    """boto3 sends `Expect: 100-continue` with every PutObject. After an empty PUT the next PUT
    on the same kept-alive connection must still be answered promptly: botocore stalls (until
    the server's idle timeout) if an Expect request gets its final answer without a
    `100 Continue` (AWS S3 sends one). Each put takes milliseconds; 20 s is "stalled"."""
    c = s3.client(retries=1)
    b = s3.bucket("obj-expect")

    stalled = threading.Event()

    def puts():
        for i in range(2):
            if stalled.is_set():
                return
            c.put_object(Bucket=b, Key=f"empty-{i}", Body=b"")
            c.put_object(Bucket=b, Key=f"one-{i}", Body=b"1")

    ex = ThreadPoolExecutor(1)
    try:
        ex.submit(puts).result(timeout=20 * h.TIMEOUT_SCALE)
    except TimeoutError:
        stalled.set()
        pytest.fail("a PutObject after an empty PutObject on the same connection stalled: the "
                    "server answered `Expect: 100-continue` with its final response and no "
                    "`100 Continue`, which botocore misreads on the next Expect request")
    finally:
        ex.shutdown(wait=False)  # a stalled put ends when the server drops the connection
    assert body_of(c.get_object(Bucket=b, Key="one-1")) == b"1"


def test_ranges(s3):
    c = s3.client()
    b = s3.bucket("obj-ranges")
    rng = h.seeded_rng("ranges")
    small = rng.randbytes(1000)
    big = rng.randbytes(3 * MiB + 12345)  # striped: ranges cross chunk boundaries
    c.put_object(Bucket=b, Key="small", Body=small)
    c.put_object(Bucket=b, Key="big", Body=big)
    n = len(small)
    cases = [("bytes=0-0", 0, 0), ("bytes=0-9", 0, 9), ("bytes=10-19", 10, 19),
             ("bytes=990-", 990, n - 1), ("bytes=0-", 0, n - 1), ("bytes=-10", n - 10, n - 1),
             ("bytes=-1000", 0, n - 1), ("bytes=-5000", 0, n - 1),
             ("bytes=995-2000", 995, n - 1), ("bytes=999-999", 999, 999)]
    for header, first, last in cases:
        r = c.get_object(Bucket=b, Key="small", Range=header)
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 206, header
        assert body_of(r) == small[first:last + 1], header
        assert r["ContentRange"] == f"bytes {first}-{last}/{n}", (header, r["ContentRange"])
        assert r["ContentLength"] == last - first + 1, header
    for header in ("bytes=1000-", "bytes=1000-1001", "bytes=5000-6000"):
        code, status, e = client_error(c.get_object, Bucket=b, Key="small", Range=header)
        assert (code, status) == ("InvalidRange", 416), (header, code, status)
    for _ in range(20):
        first = rng.randrange(len(big))
        last = min(len(big) - 1, first + rng.choice([0, 1, 4095, 4096, MiB, 2 * MiB + 7]))
        r = c.get_object(Bucket=b, Key="big", Range=f"bytes={first}-{last}")
        assert body_of(r) == big[first:last + 1], (first, last)
    assert body_of(c.get_object(Bucket=b, Key="big", Range="bytes=-100")) == big[-100:]


def test_conditional_requests(s3):
    c = s3.client()
    b = s3.bucket("obj-cond")
    etag = c.put_object(Bucket=b, Key="k", Body=b"conditional")["ETag"]
    modified = c.head_object(Bucket=b, Key="k")["LastModified"]
    before, after = modified - datetime.timedelta(hours=1), modified + datetime.timedelta(hours=1)
    ok = [dict(IfMatch=etag), dict(IfMatch="*"), dict(IfNoneMatch='"0123"'),
          dict(IfModifiedSince=before), dict(IfUnmodifiedSince=after),
          dict(IfUnmodifiedSince=modified),
          # S3: If-Match true and If-Unmodified-Since false -> 200.
          dict(IfMatch=etag, IfUnmodifiedSince=before),
          # If-None-Match true (no match) wins over If-Modified-Since false -> 200.
          dict(IfNoneMatch='"0123"', IfModifiedSince=modified)]
    for kw in ok:
        assert body_of(c.get_object(Bucket=b, Key="k", **kw)) == b"conditional", kw
        c.head_object(Bucket=b, Key="k", **kw)
    failed = [dict(IfMatch='"0123"'), dict(IfUnmodifiedSince=before)]
    for kw in failed:
        assert client_error(c.get_object, Bucket=b, Key="k", **kw)[:2] == \
            ("PreconditionFailed", 412), kw
        assert client_error(c.head_object, Bucket=b, Key="k", **kw)[1] == 412, kw
    not_modified = [dict(IfNoneMatch=etag), dict(IfNoneMatch="*"),
                    dict(IfModifiedSince=modified), dict(IfModifiedSince=after),
                    dict(IfNoneMatch=etag, IfModifiedSince=before)]
    for kw in not_modified:
        assert client_error(c.get_object, Bucket=b, Key="k", **kw)[1] == 304, kw
        assert client_error(c.head_object, Bucket=b, Key="k", **kw)[1] == 304, kw


def test_delete_objects(s3):
    c = s3.client()
    b = s3.bucket("obj-delete-many")
    keys = [f"many/{i % 7}/k{i:04}" for i in range(1000)]
    put_many(c, b, {k: k.encode() for k in keys}, threads=8)
    assert len(list_keys(c, b)) == 1000
    some = keys[:8] + ["many/missing-1", "never/there"]
    r = c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": k} for k in some]})
    assert sorted(d["Key"] for d in r.get("Deleted", [])) == sorted(some), r
    assert not r.get("Errors"), r
    rest = keys[8:] + [f"absent/{i}" for i in range(8)]
    assert len(rest) == 1000
    r = c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": k} for k in rest], "Quiet": True})
    assert not r.get("Deleted") and not r.get("Errors"), r
    assert list_keys(c, b) == []
    code, status, _ = client_error(
        c.delete_objects, Bucket=b,
        Delete={"Objects": [{"Key": f"k{i}"} for i in range(1001)]})
    assert (code, status) == ("MalformedXML", 400)
    c.delete_bucket(Bucket=b)  # empty: the "directories" went with their keys


def test_copy_object(s3):
    c = s3.client()
    src, dst = s3.bucket("copy-src"), s3.bucket("copy-dst")
    data = random.Random(2).randbytes(700_000)
    c.put_object(Bucket=src, Key="in/orig é+ space", Body=data, ContentType="image/x-test",
                 Metadata={"origin": "camera"})
    source = {"Bucket": src, "Key": "in/orig é+ space"}
    r = c.copy_object(Bucket=dst, Key="copied", CopySource=source)
    assert r["CopyObjectResult"]["ETag"] == f'"{s3h.md5_hex(data)}"'
    got = c.get_object(Bucket=dst, Key="copied")
    assert body_of(got) == data and got["Metadata"] == {"origin": "camera"}
    assert got["ContentType"] == "image/x-test"
    r = c.copy_object(Bucket=dst, Key="replaced", CopySource=source, MetadataDirective="REPLACE",
                      Metadata={"new": "yes"}, ContentType="text/plain")
    got = c.get_object(Bucket=dst, Key="replaced")
    assert body_of(got) == data and got["Metadata"] == {"new": "yes"}, got["Metadata"]
    assert got["ContentType"] == "text/plain"
    # Onto itself, changing the metadata (REPLACE).
    c.copy_object(Bucket=src, Key="in/orig é+ space", CopySource=source,
                  MetadataDirective="REPLACE", Metadata={"origin": "edited"})
    got = c.get_object(Bucket=src, Key="in/orig é+ space")
    assert body_of(got) == data and got["Metadata"] == {"origin": "edited"}
    # The source is unchanged by copies elsewhere; errors.
    assert client_error(c.copy_object, Bucket=dst, Key="x",
                        CopySource={"Bucket": src, "Key": "missing"})[:2] == ("NoSuchKey", 404)
    assert client_error(c.copy_object, Bucket=dst, Key="x",
                        CopySource={"Bucket": "no-such-src-bkt", "Key": "k"})[:2] == \
        ("NoSuchBucket", 404)
    bob = s3.client("bob")
    bob.create_bucket(Bucket="copy-bob")
    assert client_error(bob.copy_object, Bucket="copy-bob", Key="stolen",
                        CopySource=source)[:2] == ("AccessDenied", 403)
    assert client_error(c.copy_object, Bucket="copy-bob", Key="pushed",
                        CopySource=source)[:2] == ("AccessDenied", 403)


def test_copy_onto_itself_needs_a_change(s3):
    """S3 refuses a copy of an object onto itself that changes nothing (400 InvalidRequest)."""
    c = s3.client()
    b = s3.bucket("copy-self")
    c.put_object(Bucket=b, Key="k", Body=b"same")
    code, status, _ = client_error(c.copy_object, Bucket=b, Key="k",
                                   CopySource={"Bucket": b, "Key": "k"})
    assert (code, status) == ("InvalidRequest", 400)
    assert body_of(c.get_object(Bucket=b, Key="k")) == b"same"


# ---------------------------------------------------------------------------------------------
# Listing against a model of S3's order


def model_items(keys, prefix, delimiter, start_after):
    """S3's listing of sorted `keys` (UTF-8 byte order = code point order): ("key", k) and
    ("prefix", p) in order, keys rolled up into common prefixes by the delimiter."""
    items, last = [], None
    for k in keys:
        if not k.startswith(prefix) or k <= start_after:
            continue
        if delimiter:
            i = k.find(delimiter, len(prefix))
            if i >= 0:
                cp = k[:i + len(delimiter)]
                if cp != last:
                    items.append(("prefix", cp))
                    last = cp
                continue
        items.append(("key", k))
    return items


def listing_keys(rng):
    """~1,300 keys: several "directories" of several levels, names sorting just before and
    after '/', directory markers, escapes and unicode, and random ones. No name is both a file
    and a directory (the namespace refuses that; see test_key_and_directory_conflicts)."""
    keys = {"a-b", "a.txt", "a0", "b", "a/x", "a/x0", "a/x-", "plus+sign", "sp ace/a b",
            "esc/amp&lt<gt>", "esc/quote'\"", "esc/100%", "esc/~tilde", "uni/é-1", "uni/é/2",
            "uni/日本/3", "uni/🙂", "empty-marker/", "dir1/sub2/", "dir2/deep/",
            "dir2/deep/er/est/x", "dir3/sub0-x", "dir3/sub0.log", "dir3/sub00"}
    keys |= {f"top-{i:02}" for i in range(20)}
    for d in range(4):
        for s in range(5):
            for f in range(50):
                keys.add(f"dir{d}/sub{s}/file-{f:03}")
        for f in range(20):
            keys.add(f"dir{d}/file{f}")
    files = {k for k in keys if not k.endswith("/")}
    dirs = {"/".join(k.split("/")[:i]) for k in keys for i in range(1, k.count("/") + 1)}
    alphabet = "ab-.+ 0é~_"
    while len(keys) < 1300:
        depth = rng.randrange(1, 4)
        parts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 4)))
                 for _ in range(depth)]
        if any(p in (".", "..") for p in parts):
            continue
        base = rng.choice(["", "", "dir1/", "r/"])
        key = base + "/".join(parts)
        its_dirs = {"/".join(key.split("/")[:i]) for i in range(1, key.count("/") + 1)}
        if key in dirs or its_dirs & files or key in keys:
            continue
        if rng.random() < 0.05:  # a marker for one of its directories
            if its_dirs:
                keys.add(sorted(its_dirs)[0] + "/")
        keys.add(key)
        files.add(key)
        dirs |= its_dirs
    return sorted(keys)


def list_pages(c, bucket, v2, prefix, delimiter, max_keys, start_after, page_limit):
    kw = dict(Bucket=bucket, Prefix=prefix, MaxKeys=max_keys)
    if delimiter:
        kw["Delimiter"] = delimiter
    if start_after:
        kw["StartAfter" if v2 else "Marker"] = start_after
    pages = []
    while True:
        r = c.list_objects_v2(**kw) if v2 else c.list_objects(**kw)
        pages.append(r)
        assert len(pages) <= page_limit, f"more than {page_limit} pages"
        if not r["IsTruncated"]:
            return pages
        if v2:
            kw["ContinuationToken"] = r["NextContinuationToken"]
        else:
            contents = r.get("Contents", [])
            kw["Marker"] = r.get("NextMarker") or contents[-1]["Key"]


def check_listing(c, bucket, keys, sizes, v2, prefix, delimiter, max_keys, start_after):
    what = (f"list_objects{'_v2' if v2 else ''}(prefix={prefix!r}, delimiter={delimiter!r}, "
            f"max_keys={max_keys}, {'start_after' if v2 else 'marker'}={start_after!r})")
    want = model_items(keys, prefix, delimiter, start_after)
    want_pages = [want[i:i + max_keys] for i in range(0, len(want), max_keys)] or [[]]
    pages = list_pages(c, bucket, v2, prefix, delimiter, max_keys, start_after,
                       len(want_pages) + 2)
    got_all = []
    for i, r in enumerate(pages):
        got_keys = [o["Key"] for o in r.get("Contents", [])]
        got_prefixes = [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        got_all += [("key", k) for k in got_keys] + [("prefix", p) for p in got_prefixes]
        if i < len(want_pages):
            page = want_pages[i]
            assert got_keys == [v for t, v in page if t == "key"], \
                f"{what}: page {i} keys differ"
            assert got_prefixes == [v for t, v in page if t == "prefix"], \
                f"{what}: page {i} common prefixes differ"
        assert r["IsTruncated"] == (i < len(want_pages) - 1), f"{what}: page {i} IsTruncated"
        # botocore decodes Prefix of encoding-type=url answers for v2 only.
        got_prefix = r.get("Prefix", "") if v2 else unquote(r.get("Prefix", ""))
        assert r["MaxKeys"] == max_keys and got_prefix == prefix, f"{what}: MaxKeys or Prefix"
        if v2:
            assert r["KeyCount"] == len(got_keys) + len(got_prefixes), f"{what}: KeyCount"
        elif delimiter and r["IsTruncated"]:
            assert r.get("NextMarker") == want_pages[i][-1][1], f"{what}: page {i} NextMarker"
        for o in r.get("Contents", []):
            assert o["Size"] == sizes[o["Key"]], f"{what}: size of {o['Key']!r}"
    assert len(pages) == len(want_pages), f"{what}: {len(pages)} pages, expected " \
        f"{len(want_pages)}; got {got_all[:20]}... expected {want[:20]}..."
    return len(pages)


def test_listing_matches_the_s3_model(s3):
    rng = h.seeded_rng("listing model")
    c = s3.client()
    b = s3.bucket("list-model")
    keys = listing_keys(rng)
    bodies = {k: (b"" if k.endswith("/") else k.encode()) for k in keys}
    sizes = {k: len(v) for k, v in bodies.items()}
    # Markers (empty bodies) as signed raw requests, the rest through boto3, over every VIP.
    raw = s3.raw()
    for k in keys:
        if k.endswith("/"):
            r = raw.request("PUT", b, k)
            assert r.status == 200, f"marker {k!r}: {r}"
    clients = [s3.client(vip=v) for v in s3.vips[:4]]
    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda ik: clients[ik[0] % 4].put_object(Bucket=b, Key=ik[1],
                                                               Body=bodies[ik[1]]),
                    [(i, k) for i, k in enumerate(keys) if not k.endswith("/")]))
    print(f"{len(keys)} keys put in {time.monotonic() - t0:.1f} s")

    failures, calls = [], [0]

    def check(*args):
        try:
            calls[0] += check_listing(c, b, keys, sizes, *args)
        except AssertionError as e:  # go on: the set of failing combinations tells more
            failures.append(str(e).splitlines()[0])

    # The whole bucket, both versions, default page size.
    check(True, "", "", 1000, "")
    check(False, "", "", 1000, "")
    check(True, "", "/", 1000, "")
    check(False, "dir1/", "/", 7, "")
    # Resuming after a key that ends with the delimiter (a directory marker) must not skip
    # the keys under it.
    for v2 in (True, False):
        for max_keys in (1, 2):
            check(v2, "dir1/sub2/", "/", max_keys, "")
    # Random combinations, every one paged to the end.
    delimiters = ["", "/", "/", "/", "-", "0", "e/", "/s", "é", "+"]
    dir_prefixes = sorted({k[:i + 1] for k in keys for i in range(len(k)) if k[i] == "/"})
    combos = 110
    for n in range(combos):
        v2 = rng.random() < 0.5
        choice = rng.random()
        if choice < 0.2:
            prefix = ""
        elif choice < 0.5:
            prefix = rng.choice(dir_prefixes)
        elif choice < 0.9:
            k = rng.choice(keys)
            prefix = k[:rng.randrange(0, len(k) + 1)]
        else:
            prefix = rng.choice(["zzz", "dir9/", "a/y", "é"])
        delimiter = rng.choice(delimiters)
        start_after = ""
        if rng.random() < 0.3:
            k = rng.choice(keys)
            start_after = k[:rng.randrange(1, len(k) + 1)]
            if delimiter and start_after.endswith(delimiter):
                start_after = start_after[:-1]
        total = len(model_items(keys, prefix, delimiter, start_after))
        max_keys = rng.choice([1, 2, 3, 5, 10, 37, 100, 250, 1000])
        max_keys = max(max_keys, -(-total // 25))  # at most ~25 pages
        check(v2, prefix, delimiter, max_keys, start_after)
    print(f"{combos} random (prefix, delimiter, max-keys, start) listings of {len(keys)} keys, "
          f"{calls[0]} list calls, {len(failures)} listings differ from the model")
    assert not failures, f"{len(failures)} listings differ from the model:\n" + "\n".join(
        failures[:30])


def test_listing_details(s3):
    c = s3.client()
    b = s3.bucket("list-details")
    raw = s3.raw()
    keys = ["a&b<c>", "sp ace", "plus+", "per%cent", "uni/é", "x/y/z"]
    for k in keys:
        c.put_object(Bucket=b, Key=k, Body=b"v")
    # Without encoding-type the keys come XML-escaped, as they are.
    r = raw.request("GET", b, query=[("list-type", "2")])
    assert r.status == 200, r
    doc = ET.fromstring(r.body)
    got = [e.text for e in doc.iter(s3h.S3_NS + "Key")]
    assert got == sorted(keys), got
    # With encoding-type=url, percent-encoded.
    r = raw.request("GET", b, query=[("list-type", "2"), ("encoding-type", "url")])
    doc = ET.fromstring(r.body)
    got = [e.text for e in doc.iter(s3h.S3_NS + "Key")]
    assert [unquote(k) for k in got] == sorted(keys), got
    assert "sp%20ace" in got and "uni/%C3%A9" in got and "a%26b%3Cc%3E" in got, got
    assert doc.find(s3h.S3_NS + "EncodingType").text == "url"
    # v1 without a delimiter gives no NextMarker; v2 echoes StartAfter, KeyCount.
    r = c.list_objects(Bucket=b, MaxKeys=2)
    assert r["IsTruncated"] and "NextMarker" not in r, r
    r = c.list_objects_v2(Bucket=b, StartAfter="plus+", FetchOwner=True)
    assert [o["Key"] for o in r["Contents"]] == ["sp ace", "uni/é", "x/y/z"]
    assert r["StartAfter"] == "plus+" and r["KeyCount"] == 3
    assert all(o["Owner"]["ID"] for o in r["Contents"]), r["Contents"]
    for query, code in [([("list-type", "2"), ("encoding-type", "base64")], "InvalidArgument"),
                        ([("max-keys", "-1")], "InvalidArgument"),
                        ([("max-keys", "ten")], "InvalidArgument"),
                        ([("list-type", "2"), ("continuation-token", "!!!")], "InvalidArgument")]:
        r = raw.request("GET", b, query=query)
        assert (r.status, r.code) == (400, code), (query, r)


# ---------------------------------------------------------------------------------------------
# Multipart uploads


def test_multipart_upload(s3):
    c = s3.client()
    b = s3.bucket("mp-basic")
    rng = h.seeded_rng("multipart")
    source = rng.randbytes(6 * MiB + 100)
    c.put_object(Bucket=b, Key="src", Body=source)
    p1, p3 = rng.randbytes(5 * MiB), rng.randbytes(MiB + 17)
    p2 = source[MiB:6 * MiB]
    up = c.create_multipart_upload(Bucket=b, Key="dir/big", ContentType="video/x-test",
                                   Metadata={"kind": "multi"})
    uid = up["UploadId"]
    assert up["Bucket"] == b and up["Key"] == "dir/big"
    other = c.create_multipart_upload(Bucket=b, Key="other/one")["UploadId"]
    # Part 1 uploaded twice: the second one counts.
    c.upload_part(Bucket=b, Key="dir/big", UploadId=uid, PartNumber=1, Body=rng.randbytes(5 * MiB))
    e1 = c.upload_part(Bucket=b, Key="dir/big", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
    e2 = c.upload_part_copy(Bucket=b, Key="dir/big", UploadId=uid, PartNumber=2,
                            CopySource={"Bucket": b, "Key": "src"},
                            CopySourceRange=f"bytes={MiB}-{6 * MiB - 1}")["CopyPartResult"]["ETag"]
    e3 = c.upload_part(Bucket=b, Key="dir/big", UploadId=uid, PartNumber=3, Body=p3)["ETag"]
    assert [e1, e2, e3] == [f'"{s3h.md5_hex(p)}"' for p in (p1, p2, p3)]

    parts = c.list_parts(Bucket=b, Key="dir/big", UploadId=uid)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts["Parts"]] == \
        [(1, e1, len(p1)), (2, e2, len(p2)), (3, e3, len(p3))], parts["Parts"]
    assert not parts["IsTruncated"]
    page = c.list_parts(Bucket=b, Key="dir/big", UploadId=uid, MaxParts=2)
    assert [p["PartNumber"] for p in page["Parts"]] == [1, 2] and page["IsTruncated"]
    assert page["NextPartNumberMarker"] == 2
    page = c.list_parts(Bucket=b, Key="dir/big", UploadId=uid, PartNumberMarker=2)
    assert [p["PartNumber"] for p in page["Parts"]] == [3] and not page["IsTruncated"]

    uploads = c.list_multipart_uploads(Bucket=b)
    assert sorted((u["Key"], u["UploadId"]) for u in uploads["Uploads"]) == \
        [("dir/big", uid), ("other/one", other)], uploads
    only = c.list_multipart_uploads(Bucket=b, Prefix="other/")
    assert [u["UploadId"] for u in only["Uploads"]] == [other]
    grouped = c.list_multipart_uploads(Bucket=b, Delimiter="/")
    assert [p["Prefix"] for p in grouped.get("CommonPrefixes", [])] == ["dir/", "other/"]
    # Not visible as an object before it completes.
    assert client_error(c.head_object, Bucket=b, Key="dir/big")[:2] == ("404", 404)

    done = c.complete_multipart_upload(
        Bucket=b, Key="dir/big", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2},
                                   {"PartNumber": 3, "ETag": e3}]})
    assert done["ETag"] == s3h.multipart_etag([p1, p2, p3]), done["ETag"]
    got = c.get_object(Bucket=b, Key="dir/big")
    assert body_of(got) == p1 + p2 + p3
    assert got["ETag"] == done["ETag"] and got["ContentType"] == "video/x-test"
    assert got["Metadata"] == {"kind": "multi"}
    r = c.get_object(Bucket=b, Key="dir/big", Range=f"bytes={5 * MiB - 10}-{5 * MiB + 9}")
    assert body_of(r) == (p1 + p2)[5 * MiB - 10:5 * MiB + 10]
    assert [u["UploadId"] for u in c.list_multipart_uploads(Bucket=b).get("Uploads", [])] == \
        [other]
    assert client_error(c.upload_part, Bucket=b, Key="dir/big", UploadId=uid, PartNumber=4,
                        Body=b"late")[:2] == ("NoSuchUpload", 404)
    c.abort_multipart_upload(Bucket=b, Key="other/one", UploadId=other)
    assert not c.list_multipart_uploads(Bucket=b).get("Uploads")


def test_multipart_errors(s3):
    c = s3.client()
    b = s3.bucket("mp-errors")
    bogus = "0" * 32
    for fn, kw in [(c.upload_part, dict(PartNumber=1, Body=b"x")), (c.list_parts, {}),
                   (c.abort_multipart_upload, {}),
                   (c.complete_multipart_upload,
                    dict(MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]}))]:
        for upload_id in (bogus, "not-an-upload-id"):
            assert client_error(fn, Bucket=b, Key="k", UploadId=upload_id, **kw)[:2] == \
                ("NoSuchUpload", 404), (fn.__name__, upload_id)

    uid = c.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    big1, small2, small3 = b"a" * (5 * MiB), b"b" * 1024, b"c" * 1024
    e1 = c.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=1, Body=big1)["ETag"]
    e2 = c.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=2, Body=small2)["ETag"]
    e3 = c.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=3, Body=small3)["ETag"]
    e4 = c.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=4, Body=big1)["ETag"]
    for number in (0, 10001):
        assert client_error(c.upload_part, Bucket=b, Key="k", UploadId=uid, PartNumber=number,
                            Body=b"x")[1] == 400, number

    def complete(parts, key="k"):
        return client_error(c.complete_multipart_upload, Bucket=b, Key=key, UploadId=uid,
                            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e}
                                                       for n, e in parts]})[:2]

    # Each list below is wrong in one way only.
    assert complete([(1, e1), (2, e2), (3, e3)]) == ("EntityTooSmall", 400)  # 2 is small
    assert complete([(1, e2)]) == ("InvalidPart", 400)  # wrong ETag
    assert complete([(1, e1), (5, e3)]) == ("InvalidPart", 400)  # never uploaded
    assert complete([(4, e4), (1, e1)]) == ("InvalidPartOrder", 400)
    assert complete([(1, e1)], key="other-key") == ("NoSuchUpload", 404)
    # Still there after the failed completions; a single small part is a valid upload.
    assert len(c.list_parts(Bucket=b, Key="k", UploadId=uid)["Parts"]) == 4
    uid2 = c.create_multipart_upload(Bucket=b, Key="single")["UploadId"]
    e = c.upload_part(Bucket=b, Key="single", UploadId=uid2, PartNumber=1, Body=small2)["ETag"]
    c.complete_multipart_upload(Bucket=b, Key="single", UploadId=uid2,
                                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
    assert body_of(c.get_object(Bucket=b, Key="single")) == small2
    # Parts 1 and 3 make a valid upload of their own: the unlisted parts are dropped.
    c.complete_multipart_upload(Bucket=b, Key="k", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 3, "ETag": e3}]})
    assert body_of(c.get_object(Bucket=b, Key="k")) == big1 + small3
    c.delete_object(Bucket=b, Key="k")
    uid = c.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    c.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=1, Body=small2)

    assert c.abort_multipart_upload(Bucket=b, Key="k", UploadId=uid)["ResponseMetadata"][
        "HTTPStatusCode"] == 204
    assert client_error(c.list_parts, Bucket=b, Key="k", UploadId=uid)[:2] == \
        ("NoSuchUpload", 404)
    assert complete([(1, e1)]) == ("NoSuchUpload", 404)
    assert client_error(c.head_object, Bucket=b, Key="k")[:2] == ("404", 404)
    # Another user cannot see or touch the bucket's uploads.
    bob = s3.client("bob")
    assert client_error(bob.list_multipart_uploads, Bucket=b)[:2] == ("AccessDenied", 403)
    assert client_error(bob.create_multipart_upload, Bucket=b, Key="x")[:2] == \
        ("AccessDenied", 403)


# ---------------------------------------------------------------------------------------------
# Checksums


def returned_checksum(response, algorithm):
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    return headers.get(f"x-amz-checksum-{algorithm.lower()}")


def test_checksums_default_and_explicit(s3):
    c = s3.client()
    b = s3.bucket("cksum")
    data = random.Random(3).randbytes(200_000)
    # The default boto3 way: newer botocore sends a CRC32 by itself; older needs asking.
    kw = {} if s3h.DEFAULT_CHECKSUMS else {"ChecksumAlgorithm": "CRC32"}
    put = c.put_object(Bucket=b, Key="default", Body=data, **kw)
    crc = s3h.checksum("CRC32", data)
    assert put.get("ChecksumCRC32") == crc, put
    got = c.get_object(Bucket=b, Key="default", ChecksumMode="ENABLED")
    assert body_of(got) == data and got.get("ChecksumCRC32") == crc, got
    head = c.head_object(Bucket=b, Key="default", ChecksumMode="ENABLED")
    assert head.get("ChecksumCRC32") == crc
    assert returned_checksum(c.head_object(Bucket=b, Key="default"), "crc32") is None
    listed = c.list_objects_v2(Bucket=b)["Contents"][0]
    assert listed.get("ChecksumAlgorithm") == ["CRC32"], listed

    raw = s3.raw()
    model = c.meta.service_model.operation_model("PutObject").input_shape.members
    for algorithm in ("CRC32C", "SHA1", "SHA256", "CRC64NVME", "CRC32"):
        value = s3h.checksum(algorithm, data)
        key = f"explicit/{algorithm}"
        header = f"x-amz-checksum-{algorithm.lower()}"
        r = raw.request("PUT", b, key, body=data,
                        headers={header: value, "x-amz-sdk-checksum-algorithm": algorithm})
        assert r.status == 200 and r.headers.get(header) == value, (algorithm, r, r.headers)
        if f"Checksum{algorithm}" in model:  # the same through boto3, value given
            c.put_object(Bucket=b, Key=key + "-boto", Body=data, **{f"Checksum{algorithm}": value})
        head = c.head_object(Bucket=b, Key=key, ChecksumMode="ENABLED")
        assert returned_checksum(head, algorithm) == value, (algorithm, head)
        got = raw.request("GET", b, key, headers={"x-amz-checksum-mode": "ENABLED"})
        assert got.body == data and got.headers.get(header) == value, algorithm
        # A wrong value is refused, and nothing is stored.
        wrong = s3h.checksum(algorithm, data + b"!")
        r = raw.request("PUT", b, key + "-bad", body=data, headers={header: wrong})
        assert (r.status, r.code) == (400, "BadDigest"), (algorithm, r)
        r = raw.request("PUT", b, key + "-bad", body=data, headers={header: "AAAA"})
        assert (r.status, r.code) == (400, "InvalidRequest"), (algorithm, r)
        assert client_error(c.head_object, Bucket=b, Key=key + "-bad")[1] == 404


def test_aws_chunked_bodies(s3):
    """What SDKs send over HTTPS (and some over HTTP): aws-chunked framing with a checksum
    trailer, unsigned or with chunk and trailer signatures."""
    c = s3.client()
    b = s3.bucket("chunked")
    raw = s3.raw()
    data = random.Random(4).randbytes(200_000)
    cases = [("unsigned-trailer", "CRC32"), ("unsigned-trailer", "CRC32C"),
             ("unsigned-trailer", "SHA256"), ("unsigned-trailer", "CRC64NVME"),
             ("unsigned-trailer", "SHA1"), ("signed", None), ("signed-trailer", "CRC32C"),
             ("signed-trailer", "CRC32")]
    for mode, algorithm in cases:
        key = f"{mode}/{algorithm}"
        r = s3h.put_aws_chunked(raw, b, key, data, mode, algorithm)
        assert r.status == 200 and r.headers["etag"] == f'"{s3h.md5_hex(data)}"', (key, r)
        got = raw.request("GET", b, key, headers={"x-amz-checksum-mode": "ENABLED"})
        assert got.body == data, key
        if algorithm:
            assert got.headers.get(f"x-amz-checksum-{algorithm.lower()}") == \
                s3h.checksum(algorithm, data), (key, got.headers)
        assert "aws-chunked" not in got.headers.get("content-encoding", ""), got.headers
    # A wrong trailer checksum, a wrong chunk signature: refused, nothing stored.
    r = s3h.put_aws_chunked(raw, b, "bad/trailer", data, "unsigned-trailer", "CRC32",
                            trailer_value=s3h.checksum("CRC32", b"other"))
    assert (r.status, r.code) == (400, "BadDigest"), r
    target, signed = raw.signed("PUT", b, "bad/signature", headers={
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
        "Content-Length": str(s3h.aws_chunked_length(len(data), 65536, "signed"))},
        payload_hash=s3h.STREAMING_MODES["signed"])
    body = s3h.aws_chunked(data, 65536, "signed", signed)
    at = body.index(b"\r\n") + 2 + 100  # one byte of the first chunk's data, flipped
    forged = body[:at] + bytes([body[at] ^ 1]) + body[at + 1:]
    r = s3h.raw_request(raw.vip, raw.port, "PUT", target, signed.headers, forged)
    assert (r.status, r.code) == (403, "SignatureDoesNotMatch"), r
    for key in ("bad/trailer", "bad/signature"):
        assert client_error(c.head_object, Bucket=b, Key=key)[1] == 404


def test_multipart_checksums(s3):
    c = s3.client()
    b = s3.bucket("mp-cksum")
    rng = random.Random(5)
    parts = [rng.randbytes(5 * MiB), rng.randbytes(123_456)]
    uid = c.create_multipart_upload(Bucket=b, Key="k", ChecksumAlgorithm="SHA256")["UploadId"]
    done_parts = []
    for n, p in enumerate(parts, 1):
        r = c.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=n, Body=p,
                          ChecksumAlgorithm="SHA256")
        assert r.get("ChecksumSHA256") == s3h.checksum("SHA256", p), r
        done_parts.append({"PartNumber": n, "ETag": r["ETag"],
                           "ChecksumSHA256": r["ChecksumSHA256"]})
    listed = c.list_parts(Bucket=b, Key="k", UploadId=uid)["Parts"]
    assert [p.get("ChecksumSHA256") for p in listed] == [d["ChecksumSHA256"] for d in done_parts]
    done = c.complete_multipart_upload(Bucket=b, Key="k", UploadId=uid,
                                       MultipartUpload={"Parts": done_parts})
    composite = base64.b64encode(hashlib.sha256(
        b"".join(hashlib.sha256(p).digest() for p in parts)).digest()).decode() + "-2"
    assert done.get("ChecksumSHA256") == composite, done
    head = c.head_object(Bucket=b, Key="k", ChecksumMode="ENABLED")
    assert head.get("ChecksumSHA256") == composite, head
    assert body_of(c.get_object(Bucket=b, Key="k")) == b"".join(parts)


# ---------------------------------------------------------------------------------------------
# Authentication and access


def test_authentication_errors(s3):
    alice = s3.client()
    b = s3.bucket("auth")
    alice.put_object(Bucket=b, Key="k", Body=b"secret")
    ak, sk = s3.keys["alice"]
    wrong = s3h.client(s3.port, ak, sk[:-1] + ("x" if sk[-1] != "x" else "y"), vip=s3.vips[1])
    assert client_error(wrong.get_object, Bucket=b, Key="k")[:2] == ("SignatureDoesNotMatch", 403)
    assert client_error(wrong.list_buckets)[:2] == ("SignatureDoesNotMatch", 403)
    unknown = s3h.client(s3.port, "AKNOSUCHKEY000000000", sk, vip=s3.vips[1])
    assert client_error(unknown.get_object, Bucket=b, Key="k")[:2] == ("InvalidAccessKeyId", 403)
    anonymous = boto3.session.Session().client(
        "s3", endpoint_url=f"http://{s3.vips[2]}:{s3.port}", region_name=s3h.REGION,
        config=s3h.client_config(signature_version=UNSIGNED))
    assert client_error(anonymous.get_object, Bucket=b, Key="k")[:2] == ("AccessDenied", 403)
    assert client_error(anonymous.list_buckets)[:2] == ("AccessDenied", 403)
    assert client_error(anonymous.put_object, Bucket=b, Key="anon", Body=b"x")[:2] == \
        ("AccessDenied", 403)
    r = s3h.raw_request(s3.vips[0], s3.port, "GET", f"/{b}/k", {"Host": "x"})
    assert (r.status, r.code) == (403, "AccessDenied"), r

    raw = s3.raw()
    now = datetime.datetime.now(datetime.timezone.utc)
    for skew in (datetime.timedelta(minutes=-20), datetime.timedelta(minutes=20)):
        r = raw.request("GET", b, "k", now=now + skew)
        assert (r.status, r.code) == (403, "RequestTimeTooSkewed"), (skew, r)
    assert raw.request("GET", b, "k", now=now + datetime.timedelta(minutes=1)).status == 200
    r = s3h.raw_request(s3.vips[0], s3.port, "GET", f"/{b}/k",
                        {"Host": "x", "Authorization": "AWS4-HMAC-SHA256 garbage"})
    assert r.status == 400 and r.code, r
    # A body that does not match the signed payload hash.
    target, signed = raw.signed("PUT", b, "tampered", body=b"signed body")
    r = s3h.raw_request(raw.vip, raw.port, "PUT", target, signed.headers, b"other body!")
    assert (r.status, r.code) == (400, "XAmzContentSHA256Mismatch"), r
    assert client_error(alice.head_object, Bucket=b, Key="tampered")[1] == 404


def test_revoked_key_is_refused(s3):
    ak, sk = s3h.make_key(s3.cluster, "alice")
    c = s3h.client(s3.port, ak, sk)
    b = "revoke-test"
    c.create_bucket(Bucket=b)
    c.put_object(Bucket=b, Key="k", Body=b"v")
    s3h.revoke_key(s3.cluster, "alice", ak)
    code, status, _ = client_error(c.get_object, Bucket=b, Key="k")
    # AWS answers a deleted key with InvalidAccessKeyId; either way 403 and no data.
    assert status == 403 and code in ("InvalidAccessKeyId", "AccessDenied"), code
    assert client_error(c.list_buckets)[1] == 403
    assert body_of(s3.client().get_object(Bucket=b, Key="k")) == b"v"  # alice's other key


def test_other_users_bucket_is_refused(s3):
    alice, bob, root = s3.client(), s3.client("bob"), s3.client("root")
    b = s3.bucket("private-alice")
    alice.put_object(Bucket=b, Key="k", Body=b"mine")
    denied = ("AccessDenied", 403)
    assert client_error(bob.get_object, Bucket=b, Key="k")[:2] == denied
    assert client_error(bob.put_object, Bucket=b, Key="k", Body=b"theirs")[:2] == denied
    assert client_error(bob.delete_object, Bucket=b, Key="k")[:2] == denied
    assert client_error(bob.list_objects_v2, Bucket=b)[:2] == denied
    assert client_error(bob.list_objects, Bucket=b)[:2] == denied
    assert client_error(bob.delete_bucket, Bucket=b)[:2] == denied
    assert client_error(bob.delete_objects, Bucket=b,
                        Delete={"Objects": [{"Key": "k"}]})[:2] == denied
    assert client_error(bob.head_object, Bucket=b, Key="k")[1] == 403
    assert b not in [x["Name"] for x in bob.list_buckets()["Buckets"]]
    assert body_of(alice.get_object(Bucket=b, Key="k")) == b"mine"
    # An S3 superuser may.
    assert body_of(root.get_object(Bucket=b, Key="k")) == b"mine"


# ---------------------------------------------------------------------------------------------
# Presigned URLs, VIPs, virtual hosts


def curl(*args):
    p = subprocess.run(["curl", "-sS", "--noproxy", "*", "--max-time", "120", *args],
                       capture_output=True, timeout=180)
    assert p.returncode == 0, f"curl {args}: {p.stderr!r}"
    return p.stdout


def test_presigned_urls_with_curl(s3, tmp_path):
    c = s3.client()
    b = s3.bucket("presign")
    data = random.Random(6).randbytes(300_000)
    c.put_object(Bucket=b, Key="dir/file name+1.bin", Body=data)
    url = c.generate_presigned_url("get_object", Params={"Bucket": b,
                                                         "Key": "dir/file name+1.bin"},
                                   ExpiresIn=600)
    out = tmp_path / "got"
    status = curl("-o", str(out), "-w", "%{http_code}", url)
    assert status == b"200" and out.read_bytes() == data
    # Response header overrides.
    url = c.generate_presigned_url("get_object", Params={
        "Bucket": b, "Key": "dir/file name+1.bin", "ResponseContentType": "text/x-over",
        "ResponseContentDisposition": "inline"}, ExpiresIn=600)
    headers = curl("-D", "-", "-o", os.devnull, url).decode().lower()
    assert "content-type: text/x-over" in headers and "content-disposition: inline" in headers

    up = tmp_path / "up"
    up.write_bytes(data[::-1])
    url = c.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "uploaded"},
                                   ExpiresIn=600)
    assert curl("-T", str(up), "-o", os.devnull, "-w", "%{http_code}", url) == b"200"
    assert body_of(c.get_object(Bucket=b, Key="uploaded")) == data[::-1]

    # Tampered, wrongly signed, expired: refused.
    url = c.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "uploaded"},
                                   ExpiresIn=600)
    tampered = url.replace("/uploaded?", "/dir/file%20name%2B1.bin?")
    err = curl("-w", "\n%{http_code}", tampered)
    assert err.endswith(b"\n403") and b"<Code>SignatureDoesNotMatch</Code>" in err, err
    ak, sk = s3.keys["alice"]
    bad = s3h.client(s3.port, ak, "not-the-secret")
    err = curl("-w", "\n%{http_code}", bad.generate_presigned_url(
        "get_object", Params={"Bucket": b, "Key": "uploaded"}, ExpiresIn=600))
    assert err.endswith(b"\n403") and b"<Code>SignatureDoesNotMatch</Code>" in err, err
    url = c.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "uploaded"},
                                   ExpiresIn=1)
    put_url = c.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "late"},
                                       ExpiresIn=1)
    time.sleep(2.5)
    err = curl("-w", "\n%{http_code}", url)
    assert err.endswith(b"\n403") and b"<Code>AccessDenied</Code>" in err, err
    assert b"expired" in err.lower(), err
    err = curl("-T", str(up), "-w", "\n%{http_code}", put_url)
    assert err.endswith(b"\n403"), err
    assert client_error(c.head_object, Bucket=b, Key="late")[1] == 404


def test_every_vip_serves_the_same_objects(s3):
    rng = h.seeded_rng("every vip")
    b = s3.bucket("vips")
    holders = s3h.vip_holders(s3.cluster)
    assert len(s3.vips) == 8 and len(set(holders.values())) == 4, holders
    data = rng.randbytes(2 * MiB + 3)
    s3.client(vip=s3.vips[0]).put_object(Bucket=b, Key="shared", Body=data)
    for i, vip in enumerate(s3.vips):
        c = s3.client(vip=vip)
        got = c.get_object(Bucket=b, Key="shared")
        assert body_of(got) == data, f"{vip} ({holders[vip]}) served other bytes"
        c.put_object(Bucket=b, Key=f"from/{vip}", Body=vip.encode() * 1000)
    for i, vip in enumerate(s3.vips):
        reader = s3.client(vip=s3.vips[(i + 3) % len(s3.vips)])
        assert body_of(reader.get_object(Bucket=b, Key=f"from/{vip}")) == vip.encode() * 1000
        assert list_keys(reader, b, "from/") == sorted(f"from/{v}" for v in s3.vips)
    print("served by " + ", ".join(f"{v}={holders[v]}" for v in s3.vips))


def signed_requests(s3, method, path, host, query=(), body=b"", headers=None):
    """A SigV4-signed request through the requests library, to a VIP with this Host header."""
    ak, sk = s3.keys["alice"]
    headers = dict(headers or {}, Host=host)
    signed = s3h.sign(method, path, list(query), headers, ak, sk,
                      hashlib.sha256(body).hexdigest())
    q = s3h.raw_query(query)
    session = requests.Session()
    session.trust_env = False
    return session.request(method, f"http://{s3.vips[3]}:{s3.port}{path}" + ("?" + q if q else ""),
                           headers=signed.headers, data=body, timeout=h.HTTP_TIMEOUT_S)


def test_virtual_host_style(s3):
    b = s3.bucket("vhost")
    c = s3.client(vip=s3.vips[5], style="virtual")
    c.put_object(Bucket=b, Key="v/obj", Body=b"virtual")
    assert body_of(c.get_object(Bucket=b, Key="v/obj")) == b"virtual"
    assert list_keys(c, b) == ["v/obj"]
    c.head_object(Bucket=b, Key="v/obj")
    # Through requests with the Host header, port or not, under both domains.
    for host in (f"{b}.s3.localhost:{s3.port}", f"{b}.s3.localhost", f"{b}.localhost:{s3.port}"):
        r = signed_requests(s3, "GET", "/v/obj", host)
        assert r.status_code == 200 and r.content == b"virtual", (host, r.status_code, r.text)
        r = signed_requests(s3, "GET", "/", host, query=[("list-type", "2")])
        assert r.status_code == 200 and "<Key>v/obj</Key>" in r.text, (host, r.text)
    r = signed_requests(s3, "PUT", "/v/two", f"{b}.s3.localhost", body=b"second")
    assert r.status_code == 200, r.text
    assert body_of(s3.client().get_object(Bucket=b, Key="v/two")) == b"second"
    # The domain itself is path-style.
    r = signed_requests(s3, "GET", f"/{b}/v/two", f"s3.localhost:{s3.port}")
    assert r.status_code == 200 and r.content == b"second", r.text
    r = signed_requests(s3, "GET", "/k", "no-such-vbucket.s3.localhost")
    assert r.status_code == 404 and "<Code>NoSuchBucket</Code>" in r.text, r.text
    # CreateBucket virtual-host style.
    r = signed_requests(s3, "PUT", "/", "vhost-made.s3.localhost")
    assert r.status_code == 200, r.text
    assert "vhost-made" in [x["Name"] for x in s3.client().list_buckets()["Buckets"]]


# ---------------------------------------------------------------------------------------------
# Atomicity and the namespace


def test_concurrent_overwrites_are_atomic(s3):
    """Writers overwrite one key with payloads of their own, through different CNodes; every
    read returns one payload whole, with its own ETag, never a mix."""
    rng = h.seeded_rng("atomic overwrites")
    b = s3.bucket("atomic")
    sizes = [64 * 1024, 700 * 1024, 2 * MiB + 1, 5 * MiB]
    payloads = [bytes([0x41 + i]) * 16 + rng.randbytes(n) for i, n in enumerate(sizes)]
    by_digest = {hashlib.sha256(p).digest(): p for p in payloads}
    s3.client().put_object(Bucket=b, Key="contended", Body=payloads[0])
    writes_each = 10
    done = threading.Event()
    problems, reads = [], [0]

    def writer(i):
        c = s3.client(vip=s3.vips[i % len(s3.vips)])
        for _ in range(writes_each):
            c.put_object(Bucket=b, Key="contended", Body=payloads[i])

    def reader(j):
        c = s3.client(vip=s3.vips[(j + 4) % len(s3.vips)])
        while not done.is_set():
            r = c.get_object(Bucket=b, Key="contended")
            body = body_of(r)
            p = by_digest.get(hashlib.sha256(body).digest())
            if p is None:
                problems.append(f"torn read: {len(body)} bytes, starting {body[:16]!r}")
            elif r["ETag"] != f'"{s3h.md5_hex(p)}"':
                problems.append(f"ETag {r['ETag']} does not belong to the body read")
            reads[0] += 1

    with ThreadPoolExecutor(len(payloads) + 3) as ex:
        readers = [ex.submit(reader, j) for j in range(3)]
        writers = [ex.submit(writer, i) for i in range(len(payloads))]
        for f in writers:
            f.result()
        done.set()
        for f in readers:
            f.result()
    assert not problems, problems[:10]
    assert reads[0] > 0
    final = body_of(s3.client().get_object(Bucket=b, Key="contended"))
    assert final in payloads
    print(f"{len(payloads) * writes_each} overwrites, {reads[0]} reads, all whole")


def test_key_and_directory_conflicts(s3):
    c = s3.client()
    b = s3.bucket("conflicts")
    c.put_object(Bucket=b, Key="a", Body=b"file a")
    code, status, _ = client_error(c.put_object, Bucket=b, Key="a/b", Body=b"under a")
    assert status == 409, (code, status)
    print(f"'a' then 'a/b': {status} {code}")
    c.put_object(Bucket=b, Key="x/y", Body=b"file y")
    code, status, _ = client_error(c.put_object, Bucket=b, Key="x", Body=b"over x/")
    assert status == 409, (code, status)
    # The same through a copy and a multipart completion.
    assert client_error(c.copy_object, Bucket=b, Key="a/c",
                        CopySource={"Bucket": b, "Key": "x/y"})[1] == 409
    uid = c.create_multipart_upload(Bucket=b, Key="x")["UploadId"]
    e = c.upload_part(Bucket=b, Key="x", UploadId=uid, PartNumber=1, Body=b"part")["ETag"]
    assert client_error(c.complete_multipart_upload, Bucket=b, Key="x", UploadId=uid,
                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})[1] == 409
    c.abort_multipart_upload(Bucket=b, Key="x", UploadId=uid)
    # Namespace intact: both listings agree with what was stored.
    assert list_keys(c, b) == ["a", "x/y"]
    r = c.list_objects_v2(Bucket=b, Delimiter="/")
    assert [o["Key"] for o in r.get("Contents", [])] == ["a"]
    assert [p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["x/"]
    assert list_keys(c, b, "a/") == []
    assert body_of(c.get_object(Bucket=b, Key="a")) == b"file a"
    assert body_of(c.get_object(Bucket=b, Key="x/y")) == b"file y"
    assert client_error(c.get_object, Bucket=b, Key="x")[:2] == ("NoSuchKey", 404)
    assert client_error(c.get_object, Bucket=b, Key="a/b")[:2] == ("NoSuchKey", 404)
    # Once the file is gone the name can be a directory, and the other way round.
    c.delete_object(Bucket=b, Key="a")
    c.put_object(Bucket=b, Key="a/b", Body=b"now fine")
    c.delete_object(Bucket=b, Key="x/y")
    c.put_object(Bucket=b, Key="x", Body=b"now a file")
    assert list_keys(c, b) == ["a/b", "x"]


def test_directory_markers(s3):
    c = s3.client()
    b = s3.bucket("markers")
    c.put_object(Bucket=b, Key="d/", Body=b"")
    c.put_object(Bucket=b, Key="d/x", Body=b"x")
    c.put_object(Bucket=b, Key="p/q/", Body=b"")
    head = c.head_object(Bucket=b, Key="d/")
    assert head["ContentLength"] == 0 and head["ETag"] == f'"{s3h.md5_hex(b"")}"'
    assert body_of(c.get_object(Bucket=b, Key="d/")) == b""
    assert list_keys(c, b) == ["d/", "d/x", "p/q/"]
    r = c.list_objects_v2(Bucket=b, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["d/", "p/"] and not r.get("Contents")
    r = c.list_objects_v2(Bucket=b, Prefix="d/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["d/", "d/x"]
    r = c.list_objects_v2(Bucket=b, Prefix="p/", Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["p/q/"]
    # "d" (no slash) is not an object; the directories of "p/q/" are not objects either.
    assert client_error(c.head_object, Bucket=b, Key="d")[1] == 404
    assert client_error(c.head_object, Bucket=b, Key="p/")[1] == 404
    c.delete_object(Bucket=b, Key="d/")
    assert list_keys(c, b) == ["d/x", "p/q/"]
    c.delete_object(Bucket=b, Key="d/x")
    c.delete_object(Bucket=b, Key="p/q/")
    assert list_keys(c, b) == []
    c.delete_bucket(Bucket=b)


SPECIAL_KEYS = ["with space", "plus+sign", "percent%20literal", "percent%", "tilde~x",
                "unicode-é-日本-🙂", "amp&lt<gt>", "quote'\"", "semi;colon=eq?q#hash",
                "a/b c/d+e", "emoji/🙂/x", "star*paren()", "comma,dollar$at@",
                "caret^backtick`", "brackets[]{}|\\", "dots.../..x/x..", "-dash", "_under"]


def test_special_character_keys(s3):
    c = s3.client()
    b = s3.bucket("special-keys")
    for i, k in enumerate(SPECIAL_KEYS):
        c.put_object(Bucket=b, Key=k, Body=k.encode())
    for k in SPECIAL_KEYS:
        assert body_of(c.get_object(Bucket=b, Key=k)) == k.encode(), k
        assert c.head_object(Bucket=b, Key=k)["ContentLength"] == len(k.encode()), k
    assert list_keys(c, b) == sorted(SPECIAL_KEYS)
    r = c.list_objects(Bucket=b)
    assert [o["Key"] for o in r["Contents"]] == sorted(SPECIAL_KEYS)
    for k in SPECIAL_KEYS[:6]:
        c.copy_object(Bucket=b, Key="copies/" + k, CopySource={"Bucket": b, "Key": k})
        assert body_of(c.get_object(Bucket=b, Key="copies/" + k)) == k.encode(), k
    # Presigned, through curl.
    url = c.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "a/b c/d+e"})
    assert curl(url) == b"a/b c/d+e"
    c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": k} for k in SPECIAL_KEYS[6:]]})
    for k in SPECIAL_KEYS[:6]:
        c.delete_object(Bucket=b, Key=k)
    assert list_keys(c, b) == sorted("copies/" + k for k in SPECIAL_KEYS[:6])


# ---------------------------------------------------------------------------------------------
# Bad input


def outside_snapshot(s3):
    """What lies next to the data directory, and the directory we run in."""
    return (sorted(os.listdir(s3.cluster.data_dir.parent)), sorted(os.listdir(os.getcwd())))


def test_bad_keys_get_s3_errors(s3):
    c = s3.client()
    b = s3.bucket("bad-keys")
    c.put_object(Bucket=b, Key="keep/me", Body=b"kept")
    before = outside_snapshot(s3)
    raw = s3.raw()
    bad = ["a/../b", "..", "../escape", "keep/../../../etc/passwd", ".", "./a", "a/./b", "a/.",
           "a//b", "a/", "/lead", "trail//", "nul\0byte", "\0", "keep/me\0/x"]
    bad.remove("a/")  # a directory marker: valid
    problems = []

    def expect(what, r, statuses):
        # A status in `statuses`, and a well-formed S3 error body for an error (not HEAD).
        if r.status not in statuses or (r.status >= 400 and not r.code
                                         and not what.startswith("HEAD")):
            problems.append(f"{what}: HTTP {r.status}, body {r.body[:400]!r}")

    for key in bad:
        expect(f"PUT {key!r}", raw.request("PUT", b, key, body=b"evil"), (400,))
        expect(f"GET {key!r}", raw.request("GET", b, key), (400, 404))
        expect(f"HEAD {key!r}", raw.request("HEAD", b, key), (400, 404))
        expect(f"CreateMultipartUpload {key!r}",
               raw.request("POST", b, key, query=[("uploads", None)]), (400,))
        expect(f"CopyObject to {key!r}", raw.request(
            "PUT", b, key, headers={"x-amz-copy-source": f"/{b}/keep/me"}), (400,))
        expect(f"CopyObject from {key!r}", raw.request(
            "PUT", b, "copy-target", headers={"x-amz-copy-source": s3h.object_path(b, key)}),
            (400, 404))
        expect(f"DELETE {key!r}", raw.request("DELETE", b, key), (204, 400))
    # Too long: 1,025 bytes (components short enough); 1,024 is fine.
    long_ok = "/".join(["k" * 200] * 5) + "/" + "x" * 19
    assert len(long_ok) == 1024
    c.put_object(Bucket=b, Key=long_ok, Body=b"long")
    assert body_of(c.get_object(Bucket=b, Key=long_ok)) == b"long"
    for key in (long_ok + "y", "é" * 513):  # 1,025 bytes; 1,026 bytes in 513 characters
        r = raw.request("PUT", b, key, body=b"x")
        if (r.status, r.code) != (400, "KeyTooLongError"):
            problems.append(f"PUT of a {len(key.encode())}-byte key: {r}")
    # Bucket names that would climb out.
    for path in ("/../etc/passwd", "/%2e%2e/x", "/./x", "/.."):
        for method in ("GET", "PUT", "DELETE"):
            expect(f"{method} {path}", raw.request(method, path=path), range(400, 500))
    assert sorted(list_keys(c, b)) == sorted(["keep/me", long_ok])
    assert outside_snapshot(s3) == before, "files appeared next to the data directory"
    s3h.assert_no_node_restarted(s3.cluster, s3.baseline, "bad keys")
    assert not problems, "\n".join(problems)


def test_malformed_xml_bodies(s3):
    c = s3.client()
    b = s3.bucket("bad-xml")
    c.put_object(Bucket=b, Key="k", Body=b"v")
    uid = c.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    e = c.upload_part(Bucket=b, Key="mp", UploadId=uid, PartNumber=1, Body=b"part")["ETag"]
    raw = s3.raw()
    bodies = [b"", b"garbage", b"<Delete><Object><Key>k</Key></Object>", b"<Other/>",
              b"<Delete></Delete>", b"<Delete><Object><Key>k</Key></Object></Delete><x/>",
              b"<a>" * 100_000, b"<?xml version='1.0'?><!DOCTYPE d [<!ENTITY a 'aaaaaaaaaa'>"
              b"<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'><!ENTITY c '&b;&b;&b;&b;&b;&b;&b;"
              b"&b;&b;&b;'><!ENTITY d '&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;'>]>"
              b"<Delete><Object><Key>&d;&d;&d;&d;</Key></Object></Delete>",
              b"\xff\xfe<\x00D\x00"]
    problems = []
    for body in bodies:
        bomb = b"<!ENTITY" in body  # entities: refused, or expanded within bounds
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
        r = raw.request("POST", b, query=[("delete", None)], body=body,
                        headers={"Content-MD5": md5})
        if (r.status, r.code) != (400, "MalformedXML") and not (bomb and r.status < 500):
            problems.append(f"DeleteObjects {body[:60]!r}: {r}")
        complete_body = body.replace(b"Delete", b"CompleteMultipartUpload")
        r = raw.request("POST", b, "mp", query=[("uploadId", uid)], body=complete_body)
        if (r.status, r.code) != (400, "MalformedXML") and not (bomb and r.status < 500):
            problems.append(f"CompleteMultipartUpload {complete_body[:60]!r}: {r}")
    assert not problems, "\n".join(problems)
    assert body_of(c.get_object(Bucket=b, Key="k")) == b"v"
    c.complete_multipart_upload(Bucket=b, Key="mp", UploadId=uid,
                                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
    assert body_of(c.get_object(Bucket=b, Key="mp")) == b"part"
    s3h.assert_no_node_restarted(s3.cluster, s3.baseline, "malformed XML")


def exchange(vip, port, data, shutdown=True, read=True):
    """Sends raw bytes; returns what the server sends until it closes (or b"<TIMEOUT>");
    without `read`, closes right after sending."""
    with socket.create_connection((vip, port), timeout=h.HTTP_TIMEOUT_S * 2) as s:
        try:
            s.sendall(data)
            if shutdown:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if not read:
            return b""
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out
                out += chunk
        except ConnectionResetError:
            return out + b"<RESET>"
        except socket.timeout:
            return out + b"<TIMEOUT>"


def status_of(answer):
    if not answer.startswith(b"HTTP/1."):
        return None
    return int(answer.split(b" ", 2)[1])


def test_oversized_and_garbage_requests(s3):
    b = s3.bucket("garbage")
    vip, port = s3.vips[1], s3.port
    raw = s3.raw(vip=vip)
    head = f"GET /{b}/k HTTP/1.1\r\nHost: {vip}:{port}\r\n"
    cases = {
        "20 KiB header": (head + "X-Big: " + "a" * 20_000 + "\r\n\r\n").encode(),
        "400 headers": (head + "".join(f"X-H{i}: {'v' * 60}\r\n" for i in range(400))
                        + "\r\n").encode(),
        "20 KiB URL": f"GET /{b}/{'u' * 20_000} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        "TLS hello": bytes.fromhex("16030100a5010000a10303") + os.urandom(160),
        "no version": b"GET /\r\n\r\n",
        "words": b"HELLO WORLD\r\n\r\n",
        "random": random.Random(7).randbytes(4096),
        "negative length": (head + "Content-Length: -1\r\n\r\n").encode(),
        "two lengths": (head + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab").encode(),
        "bad chunk": (f"PUT /{b}/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "zz\r\nabc\r\n0\r\n\r\n").encode(),
        "huge length": (f"PUT /{b}/k HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n"
                        "\r\n").encode() + b"x" * 1000,
        "nul in headers": (head + "X-A: a\0b\r\n\r\n").encode(),
        "bare LF": f"GET /{b}/k HTTP/1.1\nHost: x\n\n".encode(),
    }
    for what, data in cases.items():
        answer = exchange(vip, port, data)
        status = status_of(answer)
        print(f"{what}: {answer[:60]!r}")
        assert b"<TIMEOUT>" not in answer, f"{what}: the server neither answered nor closed"
        assert status is None or 400 <= status < 500, f"{what}: {answer[:200]!r}"
    # A Content-Length larger than what is sent, then the connection closes: no object.
    for key, shutdown in (("short-close", False), ("short-half-close", True)):
        target, signed = raw.signed("PUT", b, key, headers={"Content-Length": "1000000"},
                                    payload_hash="UNSIGNED-PAYLOAD")
        request = f"PUT {target} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in signed.headers.items()) + "\r\n"
        answer = exchange(vip, port, request.encode() + b"x" * 1000, shutdown=shutdown,
                          read=shutdown)
        status = status_of(answer)
        assert status is None or 400 <= status < 500, f"{key}: {answer[:200]!r}"
        assert client_error(s3.client().head_object, Bucket=b, Key=key)[1] == 404, key
    for vip_ in s3.vips:
        assert s3.client(vip=vip_).list_objects_v2(Bucket=b)["KeyCount"] == 0
    s3h.assert_no_node_restarted(s3.cluster, s3.baseline, "garbage requests")


# ---------------------------------------------------------------------------------------------
# The big one: last, so a failure here does not hide the rest


class RandomStream(io.RawIOBase):
    """`size` pseudo-random bytes from a seed, read sequentially; hashes what it gives."""

    def __init__(self, size, seed):
        self.left = size
        self.rng = random.Random(seed)
        self.sha = hashlib.sha256()

    def readable(self):
        return True

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.rng.randbytes(n)
        self.left -= n
        self.sha.update(data)
        return data


class HashSink:
    """A non-seekable file that hashes what is written to it, in order."""

    def __init__(self):
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        return len(data)


@pytest.mark.skipif(os.environ.get("DASE_S3_BIG") == "0", reason="DASE_S3_BIG=0")
def test_one_gib_multipart_upload_by_hash(s3):
    rng = h.seeded_rng("1 GiB upload")
    b = s3.bucket("big")
    size = 1 << 30
    c = s3.client(read_timeout=600 * h.TIMEOUT_SCALE, retries=3)
    config = TransferConfig(multipart_threshold=64 * MiB, multipart_chunksize=64 * MiB,
                            max_concurrency=2, use_threads=True)
    stream = RandomStream(size, rng.randrange(2**32))
    t0 = time.monotonic()
    c.upload_fileobj(stream, b, "one-gib", Config=config)
    t1 = time.monotonic()
    assert stream.left == 0
    head = c.head_object(Bucket=b, Key="one-gib")
    assert head["ContentLength"] == size
    assert head["ETag"].endswith('-16"'), head["ETag"]
    sink = HashSink()
    c.download_fileobj(b, "one-gib", sink, Config=config)
    t2 = time.monotonic()
    assert sink.size == size
    assert sink.sha.hexdigest() == stream.sha.hexdigest(), "the download differs from the upload"
    print(f"1 GiB: upload {t1 - t0:.1f} s, download {t2 - t1:.1f} s, sha256 "
          f"{stream.sha.hexdigest()}")
    c.delete_object(Bucket=b, Key="one-gib")
