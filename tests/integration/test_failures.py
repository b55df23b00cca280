"""Node failures on a running cluster: kill -9 of a CNode, a DNode and the VMS; a node that
crashes on start ends FAILED after a growing backoff, and comes back once it is fixed and
activated. Healthy peers must never leave ACTIVE."""
import os
import re
import shutil
import signal
import time

import pytest

import dase_harness as h

# A backoff long enough that the FAILING state (and a DNode's DEGRADED raid state) lasts for
# many API samples before the restart.
SLOW_FIRST_RESTART = {"backoff_initial_ms": 2000, "backoff_max_ms": 8000}
SIGNAL_9 = re.compile(r"signal 9\b|SIGKILL", re.IGNORECASE)


def kill_and_watch(cluster, target):
    """SIGKILLs target's process and follows it back to ACTIVE. Returns (first non-ACTIVE node
    object seen, final node object, consistent cluster samples taken while target was down)."""
    before = cluster.node(target)
    old_pid = before["pid"]
    assert before["state"] == "ACTIVE" and h.pid_alive(old_pid), before
    role = target.split("-")[0]
    print(f"killing {target} pid {old_pid}", flush=True)
    os.kill(old_pid, signal.SIGKILL)

    first_down = None
    down_samples = []  # (state, ssd_raid_state, nvram_raid_state) while target surely down
    deadline = time.monotonic() + h.WAIT_S
    while True:
        # A sandwich: the node list, the cluster, the node list again. If the target had the
        # same non-ACTIVE state (same state_time) in both lists, the cluster sample was taken
        # while it was down.
        a = {n["name"]: n for n in cluster.get(f"{role}s/")}[target]
        c = cluster.cluster_obj()
        b = {n["name"]: n for n in cluster.get(f"{role}s/")}[target]
        if a["state"] != "ACTIVE" and first_down is None:
            first_down = a
            print(f"{target} went {a['state']}: {a['state_reason']!r}", flush=True)
        if (a["state"] != "ACTIVE" and b["state"] == a["state"]
                and b.get("state_time") == a.get("state_time")):
            down_samples.append((a["state"], c["ssd_raid_state"], c["nvram_raid_state"]))
        if (first_down is not None and b["state"] == "ACTIVE" and b["pid"] != old_pid
                and h.pid_alive(b["pid"])):
            print(f"{target} is ACTIVE again with pid {b['pid']}", flush=True)
            return first_down, b, down_samples
        assert time.monotonic() < deadline, (
            f"{target} did not come back ACTIVE with a new pid within {h.WAIT_S:.0f} s; "
            f"first non-ACTIVE state seen: {first_down!r}; now: {b!r}")
        time.sleep(0.02)


@pytest.mark.parametrize("role", h.ROLES)
def test_kill_9_of_a_node_restarts_it_and_spares_the_others(make_cluster, role):
    cluster = make_cluster(restart=SLOW_FIRST_RESTART)
    rng = h.seeded_rng(f"kill {role}")
    target = f"{role}-{rng.randint(1, 4)}"
    restarts_before = cluster.node(target)["restarts"]
    sampler = h.StateSampler(cluster, exclude={target})
    sampler.start()
    try:
        first_down, back, down_samples = kill_and_watch(cluster, target)
    finally:
        sampler.stop()

    assert first_down["state"] == "FAILING", f"after kill -9, {target} was {first_down!r}"
    assert SIGNAL_9.search(first_down["state_reason"] or ""), (
        f"reason does not mention the signal: {first_down['state_reason']!r}")
    assert back["restarts"] > restarts_before, f"restarts not counted: {back!r}"
    print(f"{len(down_samples)} consistent samples while {target} was down: "
          f"{sorted(set(down_samples))}")
    if role == "dnode":
        assert down_samples, "no cluster sample was taken while the DNode was surely down"
        for state, ssd, nvram in down_samples:
            assert (ssd, nvram) == ("DEGRADED", "DEGRADED"), (
                f"with {target} {state}, ssd_raid_state={ssd} nvram_raid_state={nvram}")
        h.wait_until(lambda: (c := cluster.cluster_obj())["ssd_raid_state"] == "HEALTHY"
                     and c["nvram_raid_state"] == "HEALTHY", h.WAIT_S,
                     "raid states HEALTHY after the DNode is back")
    else:
        assert all(s[1] == "HEALTHY" for s in down_samples), down_samples
    # The sampler also asserts the cluster stayed ONLINE: one node of either kind is tolerated.
    sampler.assert_clean()
    cluster.wait_healthy()


def restart_delays(cluster, log_offset, name):
    """The monitor's restart decisions for name since log_offset: [(delay_ms, failure, max)],
    from monitor.log, or from events/ if the log has none."""
    with open(cluster.log_path("monitor"), "rb") as f:
        f.seek(log_offset)
        text = f.read().decode(errors="replace")
    found = h.node_exit_lines(text, name)
    print(f"monitor.log restart lines for {name}: {found}")
    if found:
        return found, text
    events = [e for e in cluster.get("events/") if e.get("object_name") == name]
    msgs = [e["event_message"] for e in events if "restarting in" in e.get("event_message", "")]
    print(f"events for {name}: {msgs}")
    return [(int(re.search(r"restarting in (\d+) ms", m).group(1)), None, None)
            for m in msgs], text


def test_crash_on_start_backs_off_then_fails_then_recovers(cluster):
    policy = h.FAST_RESTART
    name = "cnode-2"
    sampler = h.StateSampler(cluster, exclude={name})
    sampler.start()
    try:
        cluster.check_cli("cnode", "deactivate", "--name", name)
        assert cluster.node(name)["state"] == "INACTIVE"
        node_dir = cluster.data_dir / "nodes" / name
        assert node_dir.is_dir(), f"{node_dir} is not a directory"
        shutil.rmtree(node_dir)
        node_dir.write_text("not a directory\n")

        log_offset = cluster.log_path("monitor").stat().st_size
        cluster.check_cli("cnode", "activate", "--name", name, "--no-wait")
        failed = cluster.wait_node_state(name, "FAILED")
        print(f"{name} FAILED: {failed['state_reason']!r}")
        assert failed["state_reason"], "FAILED without a reason"
        assert re.search(r"status 1\b", failed["state_reason"]), failed["state_reason"]

        delays, log_text = restart_delays(cluster, log_offset, name)
        print("monitor.log since activation:\n" + log_text)
        assert len(delays) == policy["max_failures"] - 1, (
            f"expected {policy['max_failures'] - 1} restarts before FAILED, saw {delays}")
        ms = [d[0] for d in delays]
        assert all(a < b for a, b in zip(ms, ms[1:])), f"restart delays do not grow: {ms}"
        if delays[0][1] is not None:
            assert [d[1] for d in delays] == list(range(1, policy["max_failures"])), delays
            assert all(d[2] == policy["max_failures"] for d in delays), delays

        # FAILED means no more restarts until it is activated: watch for a while.
        size = cluster.log_path("monitor").stat().st_size
        time.sleep(2 * policy["backoff_max_ms"] / 1000)
        still = cluster.node(name)
        assert still["state"] == "FAILED", f"{name} left FAILED on its own: {still!r}"
        with open(cluster.log_path("monitor"), "rb") as f:
            f.seek(size)
            later = f.read().decode(errors="replace")
        assert not h.node_exit_lines(later, name), f"restarted while FAILED:\n{later}"

        rc, st = cluster.status()
        shown = {n["name"]: n for n in st["nodes"]}[name]
        assert shown["state"] == "FAILED" and shown["reason"], shown

        # Regression: deactivating a FAILED node (no process) used to stay DEACTIVATING.
        cluster.check_cli("cnode", "deactivate", "--name", name)
        assert cluster.node(name)["state"] == "INACTIVE", cluster.node(name)

        node_dir.unlink()
        cluster.check_cli("cnode", "activate", "--name", name)
        back = cluster.node(name)
        assert back["state"] == "ACTIVE", f"after activate returned 0: {back!r}"
        assert h.pid_alive(back["pid"]), back
    finally:
        sampler.stop()
    sampler.assert_clean()
    cluster.wait_healthy()


def test_kill_9_of_the_vms_keeps_the_nodes_and_the_port(cluster):
    monitor = cluster.monitor_pid()
    port = cluster.monitor_info()["api_port"]
    nodes_before = {n: v["pid"] for n, v in cluster.nodes().items()}
    vms = cluster.vms_pid()
    print(f"killing VMS pid {vms} (monitor {monitor}, API port {port})", flush=True)
    os.kill(vms, signal.SIGKILL)

    def new_vms_answers():
        pids = [p for p in h.children_of(monitor) if h.is_role(p, "vms")]
        if pids == [vms] or not pids:
            return None
        r = cluster.request("GET", "clusters/", timeout=5)
        return pids if r.status_code == 200 else None

    new = h.wait_until(new_vms_answers, h.WAIT_S, "a new VMS answering the API")
    print(f"new VMS pid {new}")
    assert cluster.monitor_pid() == monitor, "the monitor changed"
    assert cluster.monitor_info()["api_port"] == port, "the API port changed"
    cluster.wait_healthy()
    nodes_after = {n: v["pid"] for n, v in cluster.nodes().items()}
    assert nodes_after == nodes_before, (
        f"nodes were restarted by a VMS crash: {nodes_before} -> {nodes_after}")
