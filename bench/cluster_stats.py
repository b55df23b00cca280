"""CPU and memory of a running cluster's processes, for the benchmarks that print them
(bench/idle, bench/s3).

The processes are the monitor, its children (the VMS, the nodes) and the nodes that
`dase status --json` lists. CPU is utime + stime from /proc/PID/stat; memory is VmRSS (summed
RSS counts the shared binary once per process) and PSS from smaps_rollup (shares it out).
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
import dase_harness as h  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def read_status(pid):
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def pss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def sample(pid):
    """CPU ticks, start time (to notice a pid reused by another process), context switches."""
    fields = h.proc_stat_fields(pid)
    st = read_status(pid)
    return {
        "ticks": int(fields[11]) + int(fields[12]),
        "start": int(fields[19]),
        "ctxt": int(st["voluntary_ctxt_switches"]) + int(st["nonvoluntary_ctxt_switches"]),
    }


def processes(cluster, status_nodes):
    """{pid: name} for the monitor, its children and the nodes `status --json` lists."""
    monitor = cluster.monitor_pid()
    named = {monitor: "monitor"}
    by_pid = {n["pid"]: n["name"] for n in status_nodes if n.get("pid")}
    for pid in h.children_of(monitor) + list(by_pid):
        if pid in named:
            continue
        if pid in by_pid:
            named[pid] = by_pid[pid]
        elif h.is_role(pid, "vms"):
            named[pid] = "vms"
        else:
            named[pid] = "pid %d (%s)" % (pid, Path(f"/proc/{pid}/comm").read_text().strip())
    return named


def sample_all(procs):
    """{pid: sample} for the processes of `procs` still alive."""
    out = {}
    for pid in procs:
        try:
            out[pid] = sample(pid)
        except OSError:
            pass
    return out


def cpu_pct(before, after, wall_s):
    """Summed CPU of the processes sampled in both (and not restarted), as % of one core."""
    ticks = sum(after[pid]["ticks"] - a["ticks"] for pid, a in before.items()
                if pid in after and after[pid]["start"] == a["start"])
    return ticks / CLK_TCK / wall_s * 100


def memory_mib(procs):
    """(summed RSS, summed PSS) in MiB of the processes of `procs` still alive."""
    rss = pss = 0.0
    for pid in procs:
        try:
            rss += int(read_status(pid)["VmRSS"].split()[0]) / 1024
            pss += (pss_kib(pid) or 0) / 1024
        except (OSError, KeyError):
            pass
    return rss, pss
