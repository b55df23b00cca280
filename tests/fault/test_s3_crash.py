"""Crash test over S3 (TESTING.md): kill -9 of a random CNode or DNode at random moments while
boto3 clients, each bound to VIPs spread over 127.0.10.1-8, PUT, GET and DELETE objects of
100 B to 8 MiB (a few of them as multipart uploads) on a fixed set of keys. VIPs move to other
CNodes when theirs dies, so clients see refused and closed connections and 503s: those are
failed or unknown operations (history.py), never test failures.

Every operation is logged with its outcome (history.py). Every GET is checked the moment it
returns: it must be one value some client tried to write to the key, never a mix. After the
run, with the cluster healthy again, fresh clients read every key through every VIP: all
CNodes serve the same state, an acknowledged PUT is readable byte-exact unless a later
operation on the key may have superseded it, a key whose last acknowledged operation is a
DELETE (with nothing after it) is absent, and the listing agrees. The GETs of the run are also checked against the whole history (none saw a value an
acknowledged write had superseded before it began).

Prints "N kills, M acknowledged PUTs, K operations, 0 lost, 0 torn".
DASE_S3_CRASH_CYCLES sets the kills (default 100), DASE_S3_CRASH_CLIENTS the client threads
(default 4), DASE_SEED replays the choices."""
import collections
import os
import random
import sys
import threading
import time

import boto3
import botocore.config
import botocore.exceptions as bex

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
sys.path.insert(0, os.path.dirname(__file__))

import dase_harness as h  # noqa: E402
import history as hist  # noqa: E402
import s3_harness as s3h  # noqa: E402

CYCLES = int(os.environ.get("DASE_S3_CRASH_CYCLES", "100"))
CLIENTS = int(os.environ.get("DASE_S3_CRASH_CLIENTS", "4"))
KEYS = 40
BUCKET = "crash-bucket"
VIPS = [f"127.0.10.{i}" for i in range(1, 9)]
OP_TIMEOUT_S = 10 * h.TIMEOUT_SCALE  # connect and read timeout of one request
PART = 5 << 20  # multipart part size (the S3 minimum for every part but the last)
SIZES = [100, 5000, 70_000, 70_000, 700_000, 1_500_000]
BIG = 8 << 20


def s3_client(ip, port, creds, timeout=OP_TIMEOUT_S, attempts=1):
    """A boto3 client on one VIP: path style, short timeouts; with attempts=1 no retries (a
    retry would hide what happened to the first attempt; note botocore's "max_attempts" counts
    retries, "total_max_attempts" attempts)."""
    config = botocore.config.Config(
        s3={"addressing_style": "path"},
        retries={"total_max_attempts": attempts, "mode": "standard"},
        connect_timeout=timeout, read_timeout=timeout)
    return boto3.session.Session().client(
        "s3", endpoint_url=f"http://{ip}:{port}", region_name=s3h.REGION,
        aws_access_key_id=creds[0], aws_secret_access_key=creds[1], config=config)


def outcome_of(error):
    """The outcome of a request that raised `error`, and a short note on it. An error answer
    is a failure (but a 500, which S3 defines as "may or may not have succeeded"); a refused
    connection never carried the request; anything else (a closed connection, a timeout) is
    unknown: the server may still be working on the request, e.g. when the VIP moved away
    from a CNode that is still running."""
    if isinstance(error, bex.ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = error.response.get("Error", {}).get("Code")
        return (hist.UNKNOWN if status == 500 else hist.FAIL), f"{status} {code}"
    if isinstance(error, (bex.EndpointConnectionError, bex.ConnectTimeoutError)):
        return hist.NONE, type(error).__name__
    return hist.UNKNOWN, type(error).__name__


CLIENT_ERRORS = (bex.BotoCoreError, bex.ClientError)


class Client(threading.Thread):
    """Puts, gets and deletes random keys through its own clients, one per VIP it owns."""

    def __init__(self, index, seed, port, creds, history, stop, torn_reads):
        super().__init__(daemon=True, name=f"s3-client-{index}")
        self.rng = random.Random(seed)
        self.vips = VIPS[index % len(VIPS)::CLIENTS] or [VIPS[index % len(VIPS)]]
        self.clients = {ip: s3_client(ip, port, creds) for ip in self.vips}
        self.history, self.stop, self.torn_reads = history, stop, torn_reads
        self.failures = collections.Counter()  # "GET 503 SlowDown" -> how many
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                if self.one_op() == hist.NONE:
                    time.sleep(self.rng.uniform(0.02, 0.1))  # the VIP is moving: no spinning
        except Exception as e:  # noqa: BLE001 - a bug in the test itself: fail the test
            self.error = e
            raise

    def one_op(self):
        rng = self.rng
        ip = rng.choice(self.vips)
        s3 = self.clients[ip]
        key = f"obj/k{rng.randrange(KEYS)}"
        dice = rng.random()
        if dice < 0.35:
            return self.get(s3, ip, key).outcome
        if dice < 0.45:
            kind, data = "delete", None
        else:
            big = rng.random()
            kind = "mpu" if big < 0.03 else "put"
            size = BIG if big < 0.06 else rng.choice(SIZES)
            data = rng.randbytes(size)
        value = hist.ABSENT if data is None else hist.digest(data)
        if value is not hist.ABSENT:
            self.history.attempt(key, value)
        invoked = time.monotonic()
        outcome, note = hist.OK, ip
        try:
            if kind == "delete":
                s3.delete_object(Bucket=BUCKET, Key=key)
            elif kind == "put":
                s3.put_object(Bucket=BUCKET, Key=key, Body=data)
            else:
                outcome, note = self.multipart(s3, key, data)
                note = f"{ip} {note}".strip()
        except CLIENT_ERRORS as e:
            outcome, why = outcome_of(e)
            note = f"{ip} {why}"
            self.failures[f"{kind.upper()} {why}"] += 1
        self.history.record(key, kind, value, outcome, invoked,
                            note=note if data is None else f"{note} {len(data)} B")
        return outcome

    def multipart(self, s3, key, data):
        """A multipart upload of PART-sized parts. A failure before CompleteMultipartUpload went
        out is a write that certainly did not happen (and the upload is aborted)."""
        upload = None
        try:
            upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
            parts = []
            for number, offset in enumerate(range(0, len(data), PART), start=1):
                r = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number,
                                   Body=data[offset:offset + PART])
                parts.append({"PartNumber": number, "ETag": r["ETag"]})
        except CLIENT_ERRORS as e:
            if upload is not None:
                try:
                    s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload)
                except CLIENT_ERRORS:
                    pass  # left behind: harmless to the checks
            self.failures[f"MPU {outcome_of(e)[1]} before complete"] += 1
            return hist.NONE, f"before complete: {outcome_of(e)[1]}"
        s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload,
                                     MultipartUpload={"Parts": parts})
        return hist.OK, ""

    def get(self, s3, ip, key):
        """A GET, checked at once: it saw a value some client tried to write, never a mix."""
        invoked = time.monotonic()
        try:
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        except CLIENT_ERRORS as e:
            if isinstance(e, bex.ClientError) and e.response["Error"].get("Code") == "NoSuchKey":
                return self.history.record(key, hist.READ, hist.ABSENT, hist.OK, invoked,
                                           note=ip)
            outcome, why = outcome_of(e)
            self.failures[f"GET {why}"] += 1
            return self.history.record(key, hist.READ, hist.ABSENT, outcome, invoked,
                                       note=f"{ip} {why}")
        value = hist.digest(body)
        op = self.history.record(key, hist.READ, value, hist.OK, invoked,
                                 note=f"{ip} {len(body)} B")
        if not self.history.was_attempted(key, value):
            self.torn_reads.append(op)
            print(f"VIOLATION (TORN GET) {key} via {ip}: {len(body)} B, sha256 {value}, "
                  f"first bytes {body[:16].hex()}: no client ever wrote that\n"
                  + self.history.excerpt(key), flush=True)
        return op


def test_s3_crash(make_cluster):
    rng = h.seeded_rng("s3 crash")
    cluster = make_cluster(drives={"scm_bytes": 256 << 20, "ssd_bytes": 256 << 20},
                           estore={"flush_after_ms": 300, "sweep_every_ms": 500},
                           restart={"backoff_initial_ms": 50, "backoff_max_ms": 500,
                                    "max_failures": 1000})
    port = s3h.s3_port(cluster)
    creds = s3h.make_user(cluster, "u", delete_bucket=False)
    setup = s3_client(VIPS[0], port, creds, timeout=h.HTTP_TIMEOUT_S, attempts=5)
    h.wait_until(lambda: setup.create_bucket(Bucket=BUCKET), h.WAIT_S, f"bucket {BUCKET}")

    history, stop, torn_reads = hist.History(), threading.Event(), []
    clients = [Client(i, rng.randrange(2**32), port, creds, history, stop, torn_reads)
               for i in range(CLIENTS)]
    for c in clients:
        c.start()
    started = time.monotonic()
    try:
        kills = hist.kill_random_nodes(cluster, rng, CYCLES, history)
    finally:
        stop.set()
        for c in clients:
            c.join(timeout=h.HTTP_TIMEOUT_S * 4)
    print(f"kill loop: {time.monotonic() - started:.1f} s", flush=True)
    errors = [f"{c.name}: {c.error!r}" for c in clients if c.error is not None]
    assert not errors, "a client thread failed:\n" + "\n".join(errors)
    assert not any(c.is_alive() for c in clients), "a client thread did not stop"
    cluster.wait_healthy()

    # Fresh clients, with retries (VIPs may still be settling), on every VIP: every CNode
    # must serve the same state.
    readers = {ip: s3_client(ip, port, creds, timeout=h.HTTP_TIMEOUT_S, attempts=5)
               for ip in VIPS}

    def read_once(reader, key):
        try:
            return hist.digest(reader.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        except bex.ClientError as e:
            if e.response.get("Error", {}).get("Code") == "NoSuchKey":
                return "absent"
            raise

    final, disagreements = {}, []

    def read_state(key):
        seen = {ip: h.wait_until(lambda: read_once(r, key), h.WAIT_S, f"a GET of {key} via {ip}")
                for ip, r in readers.items()}
        if len(set(seen.values())) > 1:
            disagreements.append(key)
            print(f"VIOLATION (CNODES DISAGREE) {key}: {seen}\n" + history.excerpt(key),
                  flush=True)
        state = seen[VIPS[0]]
        final[key] = hist.ABSENT if state == "absent" else state
        return final[key]

    lost, torn = hist.check_final(history, read_state)
    run_torn, stale = hist.check_reads(history)

    listed = set()
    for page in readers[VIPS[0]].get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        listed |= {o["Key"] for o in page.get("Contents", [])}
    present = {k for k, v in final.items() if v is not hist.ABSENT}
    listing_ok = listed == present

    pinned = sum(1 for ops in history.by_key().values() if len(hist.allowed_states(ops)) == 1)
    failures = sum((c.failures for c in clients), collections.Counter())
    puts = history.count("put", hist.OK) + history.count("mpu", hist.OK)
    gets = history.count(hist.READ, hist.OK)
    outcomes = {o: history.count(outcome=o) for o in (hist.OK, hist.FAIL, hist.UNKNOWN, hist.NONE)}
    code, status = cluster.status()
    stripes = status["capacity"]["stripes"] if code == 0 and status else "?"
    print(f"{kills} kills, {puts} acknowledged PUTs, {len(history.ops)} operations, "
          f"{lost} lost, {torn} torn", flush=True)
    print(f"  ({history.count('mpu', hist.OK)} of the PUTs multipart; "
          f"{history.count('delete', hist.OK)} acknowledged DELETEs; {gets} GETs answered, "
          f"{run_torn} torn and {stale} stale; outcomes {outcomes}; {len(present)} of "
          f"{len(final)} keys present at the end, {pinned} with one allowed state; "
          f"{stripes} stripes)\n  failed requests: {dict(failures.most_common())}", flush=True)
    assert kills >= CYCLES // 2, f"only {kills} kills happened"
    assert puts > 0, "no PUT was acknowledged during the run"
    assert gets > 0, "no GET was answered during the run"
    assert lost == 0 and torn == 0
    assert not disagreements, f"the VIPs served different states of {disagreements}"
    assert not torn_reads and run_torn == 0 and stale == 0, \
        f"{len(torn_reads) or run_torn} torn and {stale} stale GETs during the run"
    assert listing_ok, (f"the listing disagrees with the GETs: listed only {listed - present}, "
                        f"readable only {present - listed}")
