"""Crash test (TESTING.md A1): kill -9 a random CNode or DNode at random moments while four
clients put, overwrite and delete objects through `dase estore`: small objects go through the
write buffer and are migrated into stripes in the background (so kills land in migrations
and sweeps too), larger ones go straight to stripes. Every operation is logged
with its outcome (ok, or failed: the outcome may be either). Afterwards a checker reads every
path: an acknowledged write is readable byte-exact unless a later operation on the path may
have superseded it, and every object is exactly one of the values written to it (never a mix).
Prints "N kills, M acknowledged writes, 0 lost, 0 torn". DASE_CRASH_CYCLES sets the kills."""
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
sys.path.insert(0, os.path.dirname(__file__))

import dase_harness as h  # noqa: E402
import history as hist  # noqa: E402


def estore(cluster, verb, path, data=b""):
    return h.estore(cluster, verb, path, data, check=False)


CYCLES = int(os.environ.get("DASE_CRASH_CYCLES", "100"))
PATHS = 40


class Client(threading.Thread):
    def __init__(self, cluster, seed, history, stop):
        super().__init__(daemon=True)
        self.cluster, self.rng, self.history, self.stop = (
            cluster, random.Random(seed), history, stop)

    def run(self):
        while not self.stop.is_set():
            path = f"/crash/p{self.rng.randrange(PATHS)}"
            invoked = time.monotonic()
            if self.rng.random() < 0.15:
                op, value = "rm", hist.ABSENT
                p = estore(self.cluster, "rm", path)
            else:
                size = self.rng.choice([100, 5000, 70000, 70000, 700_000, 1_500_000])
                data = self.rng.randbytes(size)
                op, value = "put", hist.digest(data)
                p = estore(self.cluster, "put", path, data)
            self.history.record(path, op, value, hist.OK if p.returncode == 0 else hist.FAIL,
                                invoked)


def test_crash_loop(make_cluster):
    rng = h.seeded_rng("crash loop")
    cluster = make_cluster(drives={"scm_bytes": 256 << 20, "ssd_bytes": 256 << 20},
                           estore={"flush_after_ms": 300, "sweep_every_ms": 500},
                           restart={"backoff_initial_ms": 50, "backoff_max_ms": 500,
                                    "max_failures": 1000})
    history, stop = hist.History(), threading.Event()
    clients = [Client(cluster, rng.randrange(2**32), history, stop) for _ in range(4)]
    for c in clients:
        c.start()
    try:
        kills = hist.kill_random_nodes(cluster, rng, CYCLES, history)
    finally:
        stop.set()
        for c in clients:
            c.join(timeout=120)
    cluster.wait_healthy()
    acknowledged = history.count("put", hist.OK)

    def read_state(path):
        p = estore(cluster, "get", path)
        if p.returncode == 0:
            return hist.digest(p.stdout)
        if b"NotFound" in p.stderr:
            return hist.ABSENT
        raise AssertionError(f"{path}: read failed after the run: {p.stderr!r}")

    lost, torn = hist.check_final(history, read_state)
    code, status = cluster.status()
    stripes = status["capacity"]["stripes"] if code == 0 and status else "?"
    print(f"{kills} kills, {acknowledged} acknowledged writes, {len(history.ops)} operations, "
          f"{lost} lost, {torn} torn ({stripes} stripes at the end)")
    assert kills >= CYCLES // 2, f"only {kills} kills happened"
    assert acknowledged > 0, "no write was acknowledged during the run"
    assert lost == 0 and torn == 0
