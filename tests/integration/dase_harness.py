"""Shared helpers for the integration tests: start and stop a real dase cluster on loopback,
talk to its REST API, wait for conditions without asserting on timings.

Every helper works on one data directory; a test that needs two clusters makes two
`Cluster` objects. Deadlines are generous (the ASan build is several times slower): they only
keep a broken build from hanging, they are never the thing under test.
"""
from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
DASE_BIN = os.environ.get("DASE_BIN", str(REPO_ROOT / "build" / "dase"))
# Every deadline is multiplied by this (set it > 1 for very slow machines or sanitizer builds).
TIMEOUT_SCALE = float(os.environ.get("DASE_TIMEOUT_SCALE", "1"))
CMD_TIMEOUT_S = 240 * TIMEOUT_SCALE  # one CLI command, including `up` and `down`
UP_TIMEOUT_S = int(180 * TIMEOUT_SCALE)  # passed to `dase up --timeout`
WAIT_S = 120 * TIMEOUT_SCALE  # waiting for a state change
HTTP_TIMEOUT_S = 30 * TIMEOUT_SCALE

ROLES = ("cnode", "dnode")

# Restart policy that keeps crash-loop tests short.
FAST_RESTART = {
    "backoff_initial_ms": 100,
    "backoff_max_ms": 2000,
    "max_failures": 4,
    "stable_after_ms": 3000,
}


def wait_until(predicate, timeout, what, interval=0.1):
    """Polls predicate until it returns a truthy value, which is returned. Fails with a message
    naming `what` (and the last exception the predicate raised, if any) after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_error = None
    last_value = None
    while True:
        try:
            last_value = predicate()
            last_error = None
            if last_value:
                return last_value
        except Exception as e:  # noqa: BLE001 - reported below if the wait times out
            last_error = e
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what}; "
                f"last value: {last_value!r}; last error: {last_error!r}")
        time.sleep(interval)


def seeded_rng(what):
    """A random.Random whose seed is printed; DASE_SEED replays it."""
    env_seed = os.environ.get("DASE_SEED")
    seed = int(env_seed) if env_seed else random.SystemRandom().randrange(2**32)
    print(f"{what}: seed={seed} (replay with DASE_SEED={seed})", flush=True)
    return random.Random(seed)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v))


def read_allocated(path, limit=1 << 30):
    """The bytes of a file's allocated regions, skipping holes: drive files are large and
    sparse, and reading their holes would take minutes while holding nothing."""
    out = bytearray()
    with open(path, "rb") as fh:
        fd = fh.fileno()
        size = os.fstat(fd).st_size
        pos = 0
        while pos < size and len(out) < limit:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:  # ENXIO: no data after pos
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            fh.seek(start)
            out += fh.read(min(end - start, limit - len(out)))
            pos = end
    return bytes(out)


# Small drives keep test clusters light (they are sparse files either way).
TEST_DRIVES = {"scm_bytes": 32 << 20, "ssd_bytes": 32 << 20}


def write_config(data_dir, restart=None, drives=None, estore=None, **keys):
    """Writes DIR/dase.toml before the first `up`: API on a free port, S3/NFS on free ports,
    `keys` on top; `restart` and `estore` (dicts) become the [restart] and [estore] tables,
    None leaves the defaults; `drives` updates the small test drives."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    top = {"api_host": "127.0.0.1", "api_port": 0, "s3_port": free_port(),
           "nfs_port": free_port()}
    top.update(keys)
    lines = [f"{k} = {toml_value(v)}" for k, v in top.items()]
    if restart:
        lines += ["", "[restart]"] + [f"{k} = {toml_value(v)}" for k, v in restart.items()]
    drive_keys = dict(TEST_DRIVES, **(drives or {}))
    lines += ["", "[drives]"] + [f"{k} = {toml_value(v)}" for k, v in drive_keys.items()]
    if estore:
        lines += ["", "[estore]"] + [f"{k} = {toml_value(v)}" for k, v in estore.items()]
    (data_dir / "dase.toml").write_text("\n".join(lines) + "\n")


def estore(cluster, verb, path, data=b"", check=True):
    """Runs `dase estore VERB PATH` (data on stdin); with `check`, fails unless it exits 0."""
    p = subprocess.run([cluster.binary, "estore", verb, path, "--data-dir", str(cluster.data_dir)],
                       input=data, capture_output=True, timeout=CMD_TIMEOUT_S)
    if check:
        assert p.returncode == 0, f"estore {verb} {path}: exit {p.returncode}: {p.stderr!r}"
    return p


def flip_bits_in_data(drive_path):
    """Flips one bit in every 4 KiB of the drive's written data area (past its 4 KiB header)."""
    flipped = 0
    with open(drive_path, "r+b") as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        pos = 4096
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            for offset in range(max(start, 4096), end, 4096):
                f.seek(offset + 100)
                byte = f.read(1)
                if not byte:
                    break
                f.seek(offset + 100)
                f.write(bytes([byte[0] ^ 0x10]))
                flipped += 1
            pos = end
    return flipped


def read_exact_or_refused(cluster, objects, accepted_errors, when):
    """Reads every path of `objects` (path -> bytes): each read is byte-exact or fails with an
    error naming one of `accepted_errors`; wrong bytes fail the test. Returns the refusals."""
    refused = 0
    for path, data in objects.items():
        p = estore(cluster, "get", path, check=False)
        if p.returncode == 0:
            assert p.stdout == data, f"{path}: wrong bytes served {when}"
        else:
            assert any(e in p.stderr for e in accepted_errors), p.stderr
            refused += 1
    return refused


# ---------------------------------------------------------------------------------------------
# /proc helpers (Linux only; used to check pids and to find the VMS process)


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = text[text.rindex(")") + 2:].split()[0]
    return state not in ("Z", "X")


def proc_stat_fields(pid):
    """Fields of /proc/PID/stat after the command name: [0] is state, [1] ppid, ..."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()


def proc_start_time(pid):
    """Start time of pid in clock ticks after boot: with the pid, it names one process."""
    return int(proc_stat_fields(pid)[19])


def proc_cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return []


def children_of(ppid):
    """Pids of the live processes whose parent is ppid (scans /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = proc_stat_fields(int(entry))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
        if int(fields[1]) == ppid and fields[0] not in ("Z", "X"):
            out.append(int(entry))
    return sorted(out)


def is_role(pid, role):
    """True if pid's command line contains the arguments `role <role>`."""
    args = proc_cmdline(pid)
    return any(args[i] == b"role" and args[i + 1] == role.encode() for i in range(len(args) - 1))


# ---------------------------------------------------------------------------------------------


class Cluster:
    """One cluster, identified by its data directory."""

    def __init__(self, data_dir, binary=DASE_BIN):
        self.data_dir = Path(data_dir)
        self.binary = binary
        # Every dase process seen, pid -> start time, so teardown can check they are gone (and
        # never mistake a reused pid for one of ours).
        self.known_pids = {}
        self._session = None

    # -- CLI ----------------------------------------------------------------------------------

    def run(self, *args, env=None, timeout=CMD_TIMEOUT_S):
        """Runs `dase ARGS...` (no --data-dir added). stdout/stderr go to files, not pipes, so a
        detached child that kept them open could not hang the test. Returns CompletedProcess."""
        argv = [self.binary, *map(str, args)]
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                   env=env, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"`{' '.join(argv)}` did not return within {timeout:.0f} s")
            out.seek(0)
            err.seek(0)
            p.stdout = out.read().decode(errors="replace")
            p.stderr = err.read().decode(errors="replace")
        print(f"$ {' '.join(argv)}  -> exit {p.returncode}", flush=True)
        for name, text in (("stdout", p.stdout), ("stderr", p.stderr)):
            if text.strip():
                print(f"  {name}: " + text.strip().replace("\n", "\n  " + " " * len(name) + "  "))
        return p

    def cli(self, *args, **kw):
        """Runs `dase ARGS... --data-dir D`."""
        return self.run(*args, "--data-dir", self.data_dir, **kw)

    def check_cli(self, *args, **kw):
        p = self.cli(*args, **kw)
        assert p.returncode == 0, (
            f"`dase {' '.join(map(str, args))}` exited {p.returncode}\n"
            f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def up(self, *extra, env=None, check=True):
        p = self.run("up", "--detach", "--data-dir", self.data_dir, "--timeout", UP_TIMEOUT_S,
                     *extra, env=env)
        if check:
            assert p.returncode == 0, (
                f"`dase up` exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}\n"
                + self.log_tails())
        self._session = None  # the port or the password may be new
        if p.returncode == 0:
            self.remember_pids()
        return p

    def down(self, *extra, check=True):
        self.remember_pids()
        p = self.cli("down", "--timeout", UP_TIMEOUT_S, *extra)
        if check:
            assert p.returncode == 0, (
                f"`dase down` exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}")
        self._session = None
        return p

    def status(self):
        """(exit code, parsed `status --json`) ; the JSON is None if it did not parse."""
        p = self.cli("status", "--json")
        try:
            doc = json.loads(p.stdout)
        except ValueError:
            doc = None
        return p.returncode, doc

    def remember_pids(self):
        try:
            monitor = self.monitor_pid()
            for pid in [monitor] + children_of(monitor):
                self.known_pids[pid] = proc_start_time(pid)
        except (OSError, ValueError, KeyError):
            pass

    def live_known_pids(self):
        """The remembered processes still running (same pid and same start time)."""
        out = []
        for pid, start in self.known_pids.items():
            try:
                if pid_alive(pid) and proc_start_time(pid) == start:
                    out.append(pid)
            except OSError:
                pass
        return sorted(out)

    # -- files --------------------------------------------------------------------------------

    def monitor_info(self):
        return json.loads((self.data_dir / "run" / "monitor.json").read_text())

    def monitor_pid(self):
        return int(self.monitor_info()["pid"])

    def vms_pid(self):
        """The pid of the VMS: the monitor's child started as `dase role vms ...`."""
        pids = [p for p in children_of(self.monitor_pid()) if is_role(p, "vms")]
        assert len(pids) == 1, f"expected one VMS child of the monitor, found {pids}"
        return pids[0]

    def password(self):
        return (self.data_dir / "admin.password").read_text().strip()

    @property
    def cert(self):
        return str(self.data_dir / "vms" / "tls" / "cert.pem")

    @property
    def base_url(self):
        info = self.monitor_info()
        return f"https://{info['api_host']}:{info['api_port']}"

    def log_path(self, process):
        return self.data_dir / "logs" / f"{process}.log"

    def log_tails(self, lines=40):
        logs = sorted((self.data_dir / "logs").glob("*.log"))
        out = []
        for path in logs:
            text = path.read_text(errors="replace").splitlines()
            out.append(f"----- {path} (last {min(lines, len(text))} of {len(text)} lines)")
            out += text[-lines:]
        return "\n".join(out)

    # -- REST API -----------------------------------------------------------------------------

    def url(self, path, prefix="/api/"):
        return self.base_url + prefix + path.lstrip("/")

    def new_session(self, auth="basic"):
        """A requests.Session trusting the cluster's certificate; auth "basic" (admin) or None."""
        s = requests.Session()
        # Not the environment's CA bundle (REQUESTS_CA_BUNDLE would override `verify`), proxies
        # or .netrc: only the cluster's own certificate.
        s.trust_env = False
        s.verify = self.cert
        if auth == "basic":
            s.auth = ("admin", self.password())
        return s

    @property
    def session(self):
        if self._session is None:
            self._session = self.new_session()
        return self._session

    def request(self, method, path, session=None, prefix="/api/", **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT_S)
        return (session or self.session).request(method, self.url(path, prefix), **kw)

    def get(self, path, session=None, **kw):
        r = self.request("GET", path, session=session, **kw)
        assert r.status_code == 200, f"GET {path} -> {r.status_code}: {r.text[:500]}"
        return r.json()

    def cluster_obj(self, session=None):
        clusters = self.get("clusters/", session=session)
        assert isinstance(clusters, list) and len(clusters) == 1, f"clusters/: {clusters!r}"
        return clusters[0]

    def nodes(self, session=None):
        """{name: node object} for every CNode and DNode, from the API."""
        out = {}
        for role in ROLES:
            for n in self.get(f"{role}s/", session=session):
                out[n["name"]] = dict(n, role=role)
        return out

    def node(self, name, session=None):
        role = name.split("-")[0]  # the list, not a filter: filters are tested on their own
        found = [n for n in self.get(f"{role}s/", session=session) if n["name"] == name]
        assert len(found) == 1, f"{role}s/ has {len(found)} nodes named {name}"
        return found[0]

    def wait_node_state(self, name, state, timeout=WAIT_S):
        return wait_until(lambda: (n := self.node(name))["state"] == state and n,
                          timeout, f"{name} to be {state}")

    def wait_healthy(self, timeout=WAIT_S, expect_inactive=()):
        """Waits for ONLINE with every node ACTIVE (or INACTIVE for `expect_inactive`)."""
        def ok():
            if self.cluster_obj()["state"] != "ONLINE":
                return False
            for name, n in self.nodes().items():
                want = "INACTIVE" if name in expect_inactive else "ACTIVE"
                if n["state"] != want:
                    return False
            return True
        wait_until(ok, timeout, "cluster ONLINE with every enabled node ACTIVE")

    def patch_enabled(self, name, enabled, session=None):
        """PATCH cnodes|dnodes/<id>/ {"enabled": ...}; returns the async_task object."""
        n = self.node(name, session=session)
        role = name.split("-")[0]
        r = self.request("PATCH", f"{role}s/{n['id']}/", session=session,
                         json={"enabled": enabled})
        assert r.status_code == 200, f"PATCH {name} enabled={enabled} -> {r.status_code}: {r.text}"
        task = r.json().get("async_task")
        assert isinstance(task, dict) and "id" in task, f"PATCH answer without async_task: {r.text}"
        return task

    def wait_vtask(self, task_id, timeout=WAIT_S, session=None):
        """Polls vtasks/<id>/ until it is no longer RUNNING; returns the final object."""
        def done():
            t = self.get(f"vtasks/{task_id}/", session=session)
            return t if t["state"] != "RUNNING" else None
        return wait_until(done, timeout, f"vtask {task_id} to finish", interval=0.05)


class StateSampler(threading.Thread):
    """Samples the API every `interval` s in its own session and records every moment a node
    not in `exclude` was not ACTIVE (or had changed pid, restart count or state time since the
    first sample), or the cluster was not ONLINE, or the API did not answer."""

    def __init__(self, cluster, exclude=(), interval=0.1):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.exclude = set(exclude)
        self.interval = interval
        self.samples = 0
        self.first_seen = {}  # node name -> (pid, restarts, state_time) in the first sample
        self.violations = []
        self.errors = []
        self._stop_event = threading.Event()

    def run(self):
        session = self.cluster.new_session()
        while not self._stop_event.is_set():
            t = time.strftime("%H:%M:%S")
            try:
                cnodes = self.cluster.get("cnodes/", session=session)
                clusters = self.cluster.get("clusters/", session=session)
                dnodes = self.cluster.get("dnodes/", session=session)
            except Exception as e:  # noqa: BLE001 - an unreachable API is itself a finding
                self.errors.append(f"{t} API error: {e!r}")
                self._stop_event.wait(self.interval)
                continue
            self.samples += 1
            for n in cnodes + dnodes:
                if n["name"] in self.exclude:
                    continue
                if n["state"] != "ACTIVE":
                    self.violations.append(
                        f"{t} {n['name']} was {n['state']} ({n.get('state_reason')!r})")
                # A change of these between two ACTIVE samples is a failure the sampling
                # interval would otherwise hide.
                seen = (n["pid"], n.get("restarts"), n.get("state_time"))
                first = self.first_seen.setdefault(n["name"], seen)
                if seen != first:
                    self.violations.append(f"{t} {n['name']} (pid, restarts, state_time) "
                                           f"changed from {first} to {seen}")
            for c in clusters:
                if c["state"] != "ONLINE":
                    self.violations.append(
                        f"{t} cluster was {c['state']} ({c.get('state_reason')!r})")
            self._stop_event.wait(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join(timeout=HTTP_TIMEOUT_S * 4)
        print(f"sampler: {self.samples} samples, {len(self.violations)} violations, "
              f"{len(self.errors)} API errors", flush=True)

    def assert_clean(self):
        assert self.samples > 0, "the sampler took no sample"
        problems = self.violations + self.errors
        assert not problems, (f"{len(problems)} of the sampled moments were bad "
                              f"(first 20):\n" + "\n".join(problems[:20]))


def teardown_cluster(cluster):
    """Stops a cluster whatever state it is in. Returns a list of problems (empty if the
    graceful `down` worked and every process we saw is gone)."""
    problems = []
    cluster.remember_pids()
    running = (cluster.data_dir / "run" / "monitor.json").exists() or cluster.live_known_pids()
    if not running:
        return problems
    p = cluster.cli("down", "--timeout", UP_TIMEOUT_S)
    if p.returncode != 0:
        problems.append(f"`dase down` exited {p.returncode}: {p.stdout} {p.stderr}")
        p = cluster.cli("down", "--force", "--timeout", UP_TIMEOUT_S)
        if p.returncode != 0:
            problems.append(f"`dase down --force` exited {p.returncode}: {p.stdout} {p.stderr}")
    try:
        wait_until(lambda: not cluster.live_known_pids(), 30 * TIMEOUT_SCALE,
                   "every dase process to exit after down")
    except AssertionError:
        left = cluster.live_known_pids()
        problems.append(f"processes still alive after down: {left}; killing them")
        for pid in left:  # only pids this test saw the cluster start
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    problems += sanitizer_reports(cluster.data_dir)
    return problems


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def sanitizer_reports(data_dir):
    """Every process logs to DIR/logs; under the ASan build a memory error or undefined
    behaviour in any node shows up there, and must fail the test that caused it."""
    found = []
    for log in sorted((Path(data_dir) / "logs").glob("*.log*")):
        text = log.read_text(errors="replace")
        for mark in SANITIZER_MARKS:
            at = text.find(mark)
            if at >= 0:
                found.append(f"{log.name}: sanitizer report:\n{text[max(0, at - 200):at + 3000]}")
                break
    return found


def file_mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def node_exit_lines(log_text, name):
    """Monitor log lines `NAME ...; restarting in N ms (failure K of M)` → [(N, K, M)]."""
    pat = re.compile(r"\b" + re.escape(name)
                     + r" .*; restarting in (\d+) ms \(failure (\d+) of (\d+)\)")
    return [tuple(map(int, m.groups())) for m in pat.finditer(log_text)]
