"""History checking for the fault tests (TESTING.md): the log of client operations, the
checker that reads everything back, and the nemesis that kills nodes.

Every key is a register. A client logs each operation on it with the moments it was invoked
and completed (as the client saw them, so they bracket the real ones) and its outcome:

- ok: acknowledged;
- fail: refused or broken off (an error answer, a reset connection): it may or may not have
  taken effect, but not after the client saw the failure;
- unknown: timed out: it may take effect at any moment after it was invoked;
- none: it certainly never reached the server (connection refused, or a multipart upload that
  was never completed).

Writes carry the sha256 of the value written (ABSENT for a delete); reads carry the state
they saw. Every value a client is about to write is registered first (`attempt`), so a read
can be checked for a torn value the moment it returns.
"""
import hashlib
import math
import os
import signal
import threading
import time
from dataclasses import dataclass

OK, FAIL, UNKNOWN, NONE = "ok", "fail", "unknown", "none"
ABSENT = None  # the state of a deleted (or never written) key
READ = "get"


def digest(data):
    return hashlib.sha256(data).hexdigest()


@dataclass
class Op:
    key: str
    kind: str  # a write ("put", "delete", ...) or READ
    value: object  # a digest written (ABSENT for a delete) or seen (ABSENT: not found)
    outcome: str  # OK, FAIL, UNKNOWN or NONE
    invoked: float  # time.monotonic()
    completed: float
    note: str = ""  # the error, or what else helps a post-mortem

    @property
    def is_write(self):
        return self.kind != READ

    @property
    def effect_end(self):
        """The last moment the operation may have taken effect."""
        return math.inf if self.outcome == UNKNOWN else self.completed


class History:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops = []
        self.attempted = {}  # key -> every digest a client tried to write there
        self.kills = []  # (monotonic time, node name, pid)
        self.t0 = time.monotonic()
        self.t0_wall = time.time()  # to match the moments with the nodes' logs

    def attempt(self, key, value):
        """Registers a value about to be written to key (before the request goes out)."""
        with self.lock:
            self.attempted.setdefault(key, set()).add(value)

    def was_attempted(self, key, value):
        with self.lock:
            return value in self.attempted.get(key, ())

    def record(self, key, kind, value, outcome, invoked, completed=None, note=""):
        op = Op(key, kind, value, outcome, invoked,
                time.monotonic() if completed is None else completed, note)
        with self.lock:
            if op.is_write and value is not ABSENT:
                self.attempted.setdefault(key, set()).add(value)
            self.ops.append(op)
        return op

    def note_kill(self, name, pid):
        with self.lock:
            self.kills.append((time.monotonic(), name, pid))

    def by_key(self):
        out = {}
        with self.lock:
            for op in self.ops:
                out.setdefault(op.key, []).append(op)
        return out

    def count(self, kind=None, outcome=None):
        with self.lock:
            return sum(1 for op in self.ops if (kind is None or op.kind == kind)
                       and (outcome is None or op.outcome == outcome))

    def wall(self, t):
        """A monotonic moment as UTC wall-clock time, as the nodes' logs write it."""
        w = self.t0_wall + (t - self.t0)
        return time.strftime("%H:%M:%S", time.gmtime(w)) + f".{int(w * 1000) % 1000:03d}"

    def describe(self, op):
        value = "absent" if op.value is ABSENT else op.value[:12]
        note = f" ({op.note})" if op.note else ""
        return (f"[{self.wall(op.invoked)} .. {self.wall(op.completed)}] "
                f"{op.kind:<9} {value:<12} {op.outcome}{note}")

    def excerpt(self, key, ops=None, last=25):
        """The last operations on key, and the kills among them, one a line."""
        ops = sorted(ops if ops is not None else self.by_key().get(key, []),
                     key=lambda o: o.invoked)[-last:]
        if not ops:
            return f"  {key}: no operations"
        lines = [(op.invoked, "  " + self.describe(op)) for op in ops]
        end = max(op.completed for op in ops)
        lines += [(t, f"  [{self.wall(t)}] kill -9 {name} (pid {pid})")
                  for t, name, pid in self.kills if ops[0].invoked <= t <= end]
        return "\n".join(line for _, line in sorted(lines, key=lambda x: x[0]))


def allowed_states(ops, start=math.inf, end=math.inf):
    """The states a read of one key, invoked at `start` and completed at `end`, may see (with
    both infinite: the state the key may end in). A write is a candidate unless it was invoked
    after the read completed, or is definitely superseded: an acknowledged write invoked after
    the first's effect window ended completed before the read began. A write that did not
    succeed may also not have happened, which leaves the writes before it candidates."""
    writes = [x for x in ops if x.is_write and x.outcome != NONE]
    acked_before = [y.invoked for y in writes if y.outcome == OK and y.completed < start]
    latest = max(acked_before, default=-math.inf)
    candidates = {x.value for x in writes if x.invoked < end and x.effect_end >= latest}
    if not acked_before:
        candidates.add(ABSENT)  # nothing acknowledged yet: the key may never have been written
    return candidates


def check_final(history, read_state):
    """Reads every key once (read_state(key) -> digest, or ABSENT) and checks it ended in an
    allowed state: every acknowledged write is readable byte-exact unless a later operation may
    have superseded it, and every object is one value attempted for it, never a mix. Prints
    each violation with the key's history; returns (lost, torn)."""
    lost = torn = 0
    for key, ops in sorted(history.by_key().items()):
        if not any(op.is_write for op in ops):
            continue
        state = read_state(key)
        allowed = allowed_states(ops)
        if state in allowed:
            continue
        if state is not ABSENT and not history.was_attempted(key, state):
            torn += 1
            what = "TORN"
        else:
            lost += 1
            what = "LOST"
        print(f"VIOLATION ({what}) {key}: state {state} not in {allowed}\n"
              + history.excerpt(key, ops), flush=True)
    return lost, torn


def check_reads(history):
    """Checks every successful read against the writes around it: it saw a value attempted
    for the key (else torn) that an acknowledged write completed before the read began had not
    superseded (else stale). Prints each violation; returns (torn, stale)."""
    torn = stale = 0
    for key, ops in sorted(history.by_key().items()):
        for r in ops:
            if r.is_write or r.outcome != OK:
                continue
            if r.value is not ABSENT and not history.was_attempted(key, r.value):
                torn += 1
                what = "TORN READ"
            elif r.value not in allowed_states(ops, r.invoked, r.completed):
                stale += 1
                what = "STALE READ"
            else:
                continue
            near = [o for o in ops if o.invoked <= r.completed]
            print(f"VIOLATION ({what}) {key}: {history.describe(r)}\n"
                  + history.excerpt(key, near), flush=True)
    return torn, stale


def kill_random_nodes(cluster, rng, cycles, history=None, pause=(0.05, 0.4)):
    """The nemesis: `cycles` times, after a random pause, kill -9 of a random ACTIVE CNode or
    DNode (pids from the API); the monitor restarts it. Returns the number of kills."""
    kills = 0
    for _ in range(cycles):
        time.sleep(rng.uniform(*pause))
        nodes = [n for n in cluster.nodes().values() if n["state"] == "ACTIVE" and n.get("pid")]
        if not nodes:
            continue
        victim = rng.choice(nodes)
        try:
            os.kill(victim["pid"], signal.SIGKILL)
        except ProcessLookupError:
            continue
        kills += 1
        if history is not None:
            history.note_kill(victim["name"], victim["pid"])
    return kills
