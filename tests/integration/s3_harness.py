"""Helpers for the S3 integration tests: users and access keys through the CLI, boto3 clients on
a given VIP (path- or virtual-host-style), a small SigV4 signer for the requests boto3 will not
send (bad keys, skewed clocks, aws-chunked bodies, raw XML), and the awscli and s3cmd command
lines with throw-away configuration files (never ~/.aws or ~/.s3cfg).

Works with the boto3/botocore of the python running the tests: Debian's (1.26 / 1.29, no
default checksums) and newer ones (1.36+: CRC32 checksums by default)."""
from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import http.client
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from urllib.parse import quote

import boto3
import botocore
from botocore.config import Config

import dase_harness as h

REGION = "us-east-1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
# The botocore of this python: 1.36 and later compute CRC32 checksums by default.
BOTOCORE_VERSION = tuple(int(x) for x in botocore.__version__.split(".")[:2])
DEFAULT_CHECKSUMS = BOTOCORE_VERSION >= (1, 36)


# ---------------------------------------------------------------------------------------------
# The cluster's S3 endpoints


def status_doc(cluster):
    code, doc = cluster.status()
    assert code == 0 and doc is not None, "dase status --json failed"
    return doc


def s3_port(cluster):
    return int(status_doc(cluster)["endpoints"]["s3_port"])


def vip_holders(cluster):
    """{vip: cnode name} from `dase status --json`."""
    return {v["ip"]: v["cnode"] for v in status_doc(cluster)["vips"]}


def vips(cluster):
    return sorted(vip_holders(cluster), key=lambda ip: tuple(map(int, ip.split("."))))


def wait_serving(cluster, vip, port, timeout=h.WAIT_S):
    """Until something accepts TCP connections on vip:port."""
    def accepting():
        with socket.create_connection((vip, port), timeout=2):
            return True
    h.wait_until(accepting, timeout, f"S3 on {vip}:{port}", interval=0.2)


def wait_vips_settled(cluster, port, quiet_s=3, timeout=h.WAIT_S):
    """Until every VIP has kept its holder for `quiet_s` and accepts connections. Right after
    `up` the VIPs are rebalanced as the CNodes become active; a moving VIP refuses
    connections until its new holder binds it (the next heartbeat)."""
    def settled():
        before = vip_holders(cluster)
        time.sleep(quiet_s)
        for vip in before:
            with socket.create_connection((vip, port), timeout=2):
                pass
        return vip_holders(cluster) == before
    h.wait_until(settled, timeout, "the VIPs to settle on their CNodes", interval=0.1)


def node_fingerprint(cluster):
    """{node name: (pid, restarts)}: equal before and after means no node crashed."""
    return {name: (n["pid"], n.get("restarts")) for name, n in cluster.nodes().items()}


def assert_no_node_restarted(cluster, before, what):
    cluster.wait_healthy()
    after = node_fingerprint(cluster)
    changed = {n: (before[n], after.get(n)) for n in before if after.get(n) != before[n]}
    assert not changed, f"nodes restarted (crashed?) after {what}: {changed}"


# ---------------------------------------------------------------------------------------------
# Users and keys (the VMS CLI)


def make_user(cluster, name, create_bucket=True, delete_bucket=True, superuser=False):
    """Creates a user and one access key through the CLI; returns (access key, secret key)."""
    args = ["user", "create", "--name", name]
    if create_bucket:
        args.append("--allow-create-bucket")
    if delete_bucket:
        args.append("--allow-delete-bucket")
    if superuser:
        args.append("--s3-superuser")
    cluster.check_cli(*args)
    return make_key(cluster, name)


def make_key(cluster, user):
    p = cluster.check_cli("user", "access-key", "create", user)
    ak = re.search(r"^access_key:\s*(\S+)\s*$", p.stdout, re.M)
    sk = re.search(r"^secret_key:\s*(\S+)\s*$", p.stdout, re.M)
    assert ak and sk, f"no key pair in: {p.stdout!r}"
    return ak.group(1), sk.group(1)


def revoke_key(cluster, user, access_key):
    cluster.check_cli("user", "access-key", "delete", user, access_key)


# ---------------------------------------------------------------------------------------------
# boto3


def client_config(style="path", retries=1, **extra):
    kw = dict(s3={"addressing_style": style}, signature_version="s3v4",
              retries={"max_attempts": retries, "mode": "standard"},
              connect_timeout=h.HTTP_TIMEOUT_S, read_timeout=h.HTTP_TIMEOUT_S,
              max_pool_connections=16)
    kw.update(extra)
    return Config(**kw)


def client(port, ak, sk, vip="127.0.10.1", style="path", retries=1, **config):
    """A boto3 S3 client for the S3 service on vip:port. style "virtual" addresses buckets as
    <bucket>.s3.localhost: the request goes to the VIP with that Host header (signed)."""
    if style == "path":
        endpoint = f"http://{vip}:{port}"
    else:
        endpoint = f"http://s3.localhost:{port}"
    c = boto3.session.Session().client(
        "s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
        region_name=REGION, config=client_config(style, retries, **config))
    if os.environ.get("DASE_S3_NO_EXPECT"):
        # Diagnosis only: drop botocore's Expect: 100-continue, to see past a server that does
        # not answer it the way botocore needs (see test_s3.py's empty-put test).
        def drop_expect(request, **_):
            del request.headers["Expect"]
        c.meta.events.register("before-send.s3", drop_expect)
    if style != "path":
        def to_vip(request, **_):
            scheme, rest = request.url.split("://", 1)
            netloc, _, path = rest.partition("/")
            request.headers["Host"] = netloc
            request.url = f"{scheme}://{vip}:{port}/{path}"
        c.meta.events.register("before-send.s3", to_vip)
    return c


def error_code(exc):
    """The S3 error code of a botocore ClientError (the HTTP status for body-less answers)."""
    return exc.response.get("Error", {}).get("Code")


def http_status(exc):
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def client_error(fn, *args, **kw):
    """Calls fn, which must fail with a ClientError; returns (code, HTTP status, exception)."""
    try:
        fn(*args, **kw)
    except botocore.exceptions.ClientError as e:
        return error_code(e), http_status(e), e
    raise AssertionError(
        f"{getattr(fn, '__name__', fn)}({args}, {kw}) succeeded; expected an error")


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def multipart_etag(parts):
    return '"' + hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + \
        f'-{len(parts)}"'


# ---------------------------------------------------------------------------------------------
# Checksums as S3 sends them: base64 of the big-endian digest


def _crc_table(poly, bits):
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _crc_table(0x82F63B78, 32)
_CRC64NVME_TABLE = _crc_table(0x9A6C9329AC4BC9B5, 64)


def crc32c(data):
    c = 0xFFFFFFFF
    t = _CRC32C_TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def crc64nvme(data):
    c = 0xFFFFFFFFFFFFFFFF
    t = _CRC64NVME_TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFFFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283
assert crc64nvme(b"123456789") == 0xAE8B14860A799888


def checksum_digest(algorithm, data):
    algorithm = algorithm.upper()
    if algorithm == "CRC32":
        return zlib.crc32(data).to_bytes(4, "big")
    if algorithm == "CRC32C":
        return crc32c(data).to_bytes(4, "big")
    if algorithm == "CRC64NVME":
        return crc64nvme(data).to_bytes(8, "big")
    if algorithm == "SHA1":
        return hashlib.sha1(data).digest()
    if algorithm == "SHA256":
        return hashlib.sha256(data).digest()
    raise ValueError(algorithm)


def checksum(algorithm, data):
    return base64.b64encode(checksum_digest(algorithm, data)).decode()


# ---------------------------------------------------------------------------------------------
# A SigV4 signer and raw HTTP, for requests boto3 cannot be made to send


def uri_encode(s, slash=True):
    """S3's UriEncode: unreserved characters kept, '/' kept if `slash`, the rest %XX."""
    return quote(s.encode() if isinstance(s, str) else s, safe="/~" if slash else "~")


def object_path(bucket, key=""):
    return "/" + bucket + ("/" + uri_encode(key) if key else "")


def signing_key(sk, date, region=REGION):
    k = hmac.new(("AWS4" + sk).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def hmac_hex(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


class Signed:
    """The headers of a signed request and what chunk signing needs."""

    def __init__(self, headers, key, amz_date, scope, signature):
        self.headers = headers
        self.key = key
        self.amz_date = amz_date
        self.scope = scope
        self.signature = signature


def sign(method, path, query, headers, ak, sk, payload_hash, now=None, region=REGION):
    """Signs a request with SigV4 (header form). `path` is the raw (already encoded) path as
    sent, `query` a list of (name, value) pairs (value None for a bare name), `headers` must
    hold Host. Returns a Signed whose headers include Authorization, x-amz-date and
    x-amz-content-sha256."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    headers = dict(headers)
    headers["x-amz-date"] = amz_date
    headers["x-amz-content-sha256"] = payload_hash
    lower = {}
    for name, value in headers.items():
        lower[name.lower()] = " ".join(str(value).strip().split())
    names = sorted(lower)
    canonical_headers = "".join(f"{n}:{lower[n]}\n" for n in names)
    signed_names = ";".join(names)
    pairs = sorted((uri_encode(k, False), uri_encode(v or "", False)) for k, v in query)
    canonical_query = "&".join(f"{k}={v}" for k, v in pairs)
    canonical = "\n".join([method, path, canonical_query, canonical_headers, signed_names,
                           payload_hash])
    scope = f"{date}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = signing_key(sk, date, region)
    signature = hmac_hex(key, to_sign)
    headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, "
                                f"SignedHeaders={signed_names}, Signature={signature}")
    return Signed(headers, key, amz_date, scope, signature)


def raw_query(query):
    return "&".join(uri_encode(k, False) if v is None else
                    f"{uri_encode(k, False)}={uri_encode(v, False)}" for k, v in query)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body

    @property
    def code(self):
        """The S3 error code of an XML error body, or None."""
        try:
            node = ET.fromstring(self.body).find("Code")
        except ET.ParseError:
            return None
        return node.text if node is not None else None

    def __repr__(self):
        return f"<HTTP {self.status} {self.body[:300]!r}>"


def raw_request(vip, port, method, target, headers=None, body=b"", timeout=None):
    """One HTTP/1.1 request with exactly this target and these headers (http.client does not
    normalize the path). Content-Length is added for a body."""
    conn = http.client.HTTPConnection(vip, port, timeout=timeout or h.HTTP_TIMEOUT_S)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        headers = dict(headers or {})
        if body or method in ("PUT", "POST"):
            headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders(body if body else None)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


class RawS3:
    """Signed raw requests to one VIP, as one access key."""

    def __init__(self, vip, port, ak, sk):
        self.vip, self.port, self.ak, self.sk = vip, port, ak, sk

    def signed(self, method, bucket="", key="", query=(), headers=None, body=b"",
               host=None, now=None, payload_hash=None, path=None):
        """Builds and signs a request; returns (target, Signed)."""
        path = path if path is not None else object_path(bucket, key) if bucket else "/"
        headers = dict(headers or {})
        headers.setdefault("Host", host or f"{self.vip}:{self.port}")
        if payload_hash is None:
            payload_hash = hashlib.sha256(body).hexdigest()
        s = sign(method, path, list(query), headers, self.ak, self.sk, payload_hash, now=now)
        q = raw_query(query)
        return path + ("?" + q if q else ""), s

    def request(self, method, bucket="", key="", query=(), headers=None, body=b"", **kw):
        target, s = self.signed(method, bucket, key, query, headers, body, **kw)
        return raw_request(self.vip, self.port, method, target, s.headers, body)


def aws_chunked(data, chunk_bytes, mode, signed=None, trailer=None):
    """An aws-chunked body. mode: "unsigned-trailer", "signed" or "signed-trailer" (`signed`
    is the request's Signed); trailer: (header name, value) or None."""
    out = []
    prev = signed.signature if signed else None

    def chunk_sig(chunk):
        nonlocal prev
        prev = hmac_hex(signed.key, "\n".join([
            "AWS4-HMAC-SHA256-PAYLOAD", signed.amz_date, signed.scope, prev, EMPTY_SHA256,
            hashlib.sha256(chunk).hexdigest()]))
        return prev

    chunks = [data[i:i + chunk_bytes] for i in range(0, len(data), chunk_bytes)] + [b""]
    for chunk in chunks:
        if mode == "unsigned-trailer":
            out.append(f"{len(chunk):x}\r\n".encode())
        else:
            out.append(f"{len(chunk):x};chunk-signature={chunk_sig(chunk)}\r\n".encode())
        if chunk:
            out.append(chunk + b"\r\n")
    if trailer:
        line = f"{trailer[0]}:{trailer[1]}"
        out.append((line + "\r\n").encode())
        if mode == "signed-trailer":
            sig = hmac_hex(signed.key, "\n".join([
                "AWS4-HMAC-SHA256-TRAILER", signed.amz_date, signed.scope, prev,
                hashlib.sha256((line + "\n").encode()).hexdigest()]))
            out.append(f"x-amz-trailer-signature:{sig}\r\n".encode())
    out.append(b"\r\n")
    return b"".join(out)


def aws_chunked_length(data_len, chunk_bytes, mode, trailer=None):
    fake = Signed({}, b"k", "20000101T000000Z", "s", "0" * 64)
    return len(aws_chunked(b"x" * data_len, chunk_bytes, mode, fake, trailer))


STREAMING_MODES = {
    "unsigned-trailer": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "signed": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "signed-trailer": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
}


def put_aws_chunked(raw, bucket, key, data, mode, trailer_algorithm=None, chunk_bytes=64 * 1024,
                    trailer_value=None):
    """PutObject with an aws-chunked body; returns the Response."""
    trailer = None
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))}
    if trailer_algorithm:
        name = f"x-amz-checksum-{trailer_algorithm.lower()}"
        trailer = (name, trailer_value or checksum(trailer_algorithm, data))
        headers["x-amz-trailer"] = name
    headers["Content-Length"] = str(aws_chunked_length(len(data), chunk_bytes, mode, trailer))
    target, s = raw.signed("PUT", bucket, key, headers=headers,
                           payload_hash=STREAMING_MODES[mode])
    body = aws_chunked(data, chunk_bytes, mode, s, trailer)
    assert len(body) == int(headers["Content-Length"])
    return raw_request(raw.vip, raw.port, "PUT", target, s.headers, body)


# ---------------------------------------------------------------------------------------------
# awscli and s3cmd with their own throw-away configuration


def which(tool):
    path = shutil.which(tool)
    assert path, f"{tool} is not installed"
    if "/.pyenv/shims/" in path:  # the shim needs pyenv; run the real script
        real = subprocess.run(["pyenv", "which", tool], capture_output=True, text=True)
        if real.returncode == 0 and real.stdout.strip():
            path = real.stdout.strip()
    return path


class Tool:
    """A command-line S3 client configured for one endpoint and key, in a temp directory."""

    def __init__(self, workdir, vip, port, ak, sk):
        self.dir = Path(tempfile.mkdtemp(prefix="s3tool-", dir=workdir))
        self.vip, self.port, self.ak, self.sk = vip, port, ak, sk
        self.endpoint = f"http://{vip}:{port}"

    def env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "S3CMD", "BOTO"))
               and k not in ("PYTHONPATH", "PYTHONHOME")}
        env.update(AWS_ACCESS_KEY_ID=self.ak, AWS_SECRET_ACCESS_KEY=self.sk,
                   AWS_DEFAULT_REGION=REGION, AWS_EC2_METADATA_DISABLED="true",
                   AWS_CONFIG_FILE=str(self.dir / "aws-config"),
                   AWS_SHARED_CREDENTIALS_FILE=str(self.dir / "aws-credentials"),
                   AWS_PAGER="")
        return env

    def _run(self, argv, timeout, check, input_bytes=None):
        p = subprocess.run(argv, env=self.env(), input=input_bytes, capture_output=True,
                           timeout=timeout, cwd=self.dir)
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        print(f"$ {' '.join(map(str, argv))}  -> exit {p.returncode}", flush=True)
        for name, text in (("stdout", out), ("stderr", err)):
            if text.strip():
                print(f"  {name}: " + text.strip()[:3000].replace("\n", "\n    "))
        if check:
            assert p.returncode == 0, f"{argv} exited {p.returncode}: {err[-2000:]}"
        p.out, p.err = out, err
        return p


class AwsCli(Tool):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.binary = which("aws")
        (self.dir / "aws-config").write_text(
            f"[default]\nregion = {REGION}\noutput = json\n"
            "s3 =\n    addressing_style = path\n")
        (self.dir / "aws-credentials").write_text(
            f"[default]\naws_access_key_id = {self.ak}\naws_secret_access_key = {self.sk}\n")

    def __call__(self, *args, check=True, timeout=h.CMD_TIMEOUT_S, input_bytes=None):
        return self._run([self.binary, "--endpoint-url", self.endpoint, *map(str, args)],
                         timeout, check, input_bytes)


class S3cmd(Tool):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.binary = which("s3cmd")
        self.config = self.dir / "s3cfg"
        hostport = f"{self.vip}:{self.port}"
        self.config.write_text("\n".join([
            "[default]", f"access_key = {self.ak}", f"secret_key = {self.sk}",
            f"host_base = {hostport}", f"host_bucket = {hostport}", "use_https = False",
            "signature_v2 = False", f"bucket_location = {REGION}", "check_ssl_certificate = False",
            "progress_meter = False", "socket_timeout = 120", ""]))

    def __call__(self, *args, check=True, timeout=h.CMD_TIMEOUT_S):
        return self._run([self.binary, "-c", str(self.config), *map(str, args)], timeout, check)


def sha256_file(path):
    d = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            d.update(block)
    return d.hexdigest()
