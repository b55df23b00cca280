"""Crash test (TESTING.md A1): kill -9 a random CNode or DNode at random moments while four
clients put, overwrite and delete objects through `dase estore`: small objects go through the
write buffer and are migrated into stripes in the background (so kills land in migrations
and sweeps too), larger ones go straight to stripes. Every operation is logged
with its outcome (ok, or failed: the outcome may be either). Afterwards a checker reads every
path: an acknowledged write is readable byte-exact unless a later operation on the path may
have superseded it, and every object is exactly one of the values written to it (never a mix).
Prints "N kills, M acknowledged writes, 0 lost, 0 torn". DASE_CRASH_CYCLES sets the kills."""
import hashlib
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

import dase_harness as h  # noqa: E402


def estore(cluster, verb, path, data=b""):
    return h.estore(cluster, verb, path, data, check=False)


CYCLES = int(os.environ.get("DASE_CRASH_CYCLES", "100"))
PATHS = 40


class Client(threading.Thread):
    def __init__(self, cluster, seed, history, lock, stop):
        super().__init__(daemon=True)
        self.cluster, self.rng, self.history, self.lock, self.stop = (
            cluster, random.Random(seed), history, lock, stop)

    def run(self):
        while not self.stop.is_set():
            path = f"/crash/p{self.rng.randrange(PATHS)}"
            invoked = time.monotonic()
            if self.rng.random() < 0.15:
                op, data = "rm", None
                p = estore(self.cluster, "rm", path)
            else:
                size = self.rng.choice([100, 5000, 70000, 70000, 700_000, 1_500_000])
                op, data = "put", self.rng.randbytes(size)
                p = estore(self.cluster, "put", path, data)
            with self.lock:
                self.history.append((path, op, data, p.returncode == 0, invoked, time.monotonic()))


def effect(entry):
    _, op, data = entry[:3]
    return None if op == "rm" else hashlib.sha256(data).hexdigest()


def allowed_states(ops):
    """The states a path (a register) may end in. An operation is definitely superseded when
    an acknowledged operation on the path began after it completed; every operation that is
    not may have been the last to take effect — a failed one may also not have happened."""
    candidates = set()
    for x in ops:
        superseded = any(y[3] and y[4] > x[5] for y in ops)
        if not superseded:
            candidates.add(effect(x))
    if not any(y[3] for y in ops):
        candidates.add(None)  # nothing acknowledged: the path may never have been written
    return candidates


def test_crash_loop(make_cluster):
    rng = h.seeded_rng("crash loop")
    cluster = make_cluster(drives={"scm_bytes": 256 << 20, "ssd_bytes": 256 << 20},
                           estore={"flush_after_ms": 300, "sweep_every_ms": 500},
                           restart={"backoff_initial_ms": 50, "backoff_max_ms": 500,
                                    "max_failures": 1000})
    history, lock, stop = [], threading.Lock(), threading.Event()
    clients = [Client(cluster, rng.randrange(2**32), history, lock, stop) for _ in range(4)]
    for c in clients:
        c.start()
    kills = 0
    try:
        for _ in range(CYCLES):
            time.sleep(rng.uniform(0.05, 0.4))
            nodes = [n for n in cluster.nodes().values() if n["state"] == "ACTIVE" and n.get("pid")]
            if not nodes:
                continue
            victim = rng.choice(nodes)
            try:
                os.kill(victim["pid"], signal.SIGKILL)
                kills += 1
            except ProcessLookupError:
                pass
    finally:
        stop.set()
        for c in clients:
            c.join(timeout=120)
    cluster.wait_healthy()
    by_path = {}
    for entry in history:
        by_path.setdefault(entry[0], []).append(entry)
    acknowledged = sum(1 for e in history if e[3] and e[1] == "put")
    lost = torn = 0
    for path, ops in by_path.items():
        p = estore(cluster, "get", path)
        if p.returncode == 0:
            state = hashlib.sha256(p.stdout).hexdigest()
        elif b"NotFound" in p.stderr:
            state = None
        else:
            raise AssertionError(f"{path}: read failed after the run: {p.stderr!r}")
        allowed = allowed_states(ops)
        if state not in allowed:
            written = {hashlib.sha256(o[2]).hexdigest() for o in ops if o[1] == "put"}
            if state is not None and state not in written:
                torn += 1
            else:
                lost += 1
            print(f"VIOLATION {path}: state {state} not in {allowed}")
    code, status = cluster.status()
    stripes = status["capacity"]["stripes"] if code == 0 and status else "?"
    print(f"{kills} kills, {acknowledged} acknowledged writes, {len(history)} operations, "
          f"{lost} lost, {torn} torn ({stripes} stripes at the end)")
    assert kills >= CYCLES // 2, f"only {kills} kills happened"
    assert acknowledged > 0, "no write was acknowledged during the run"
    assert lost == 0 and torn == 0
