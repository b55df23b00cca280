"""Deactivation and activation are asynchronous tasks that touch only their node: 50 cycles
through the API while every other node stays ACTIVE and the cluster ONLINE; once through the
CLI."""
import os

import dase_harness as h

CYCLES = int(os.environ.get("DASE_ACTIVATION_CYCLES", "50"))


def toggle(cluster, name, enabled):
    """PATCH enabled, wait for the vtask; asserts COMPLETED and the node's new state."""
    task = cluster.patch_enabled(name, enabled)
    assert task.get("state") in ("RUNNING", "COMPLETED"), task
    final = cluster.wait_vtask(task["id"])
    assert final["state"] == "COMPLETED", f"vtask for {name} enabled={enabled}: {final!r}"
    node = cluster.node(name)
    want = "ACTIVE" if enabled else "INACTIVE"
    assert node["state"] == want and node["enabled"] is enabled, (
        f"vtask {final['id']} COMPLETED but {name} is {node['state']} enabled={node['enabled']}")


def test_repeated_deactivate_activate_spares_the_others(cluster):
    name = "cnode-1"
    sampler = h.StateSampler(cluster, exclude={name})
    sampler.start()
    done = 0
    try:
        for _ in range(CYCLES):
            toggle(cluster, name, False)
            toggle(cluster, name, True)
            done += 1
    finally:
        sampler.stop()
        print(f"{done} of {CYCLES} deactivate/activate cycles of {name}; "
              f"{sampler.samples} samples of the other nodes")
    assert done == CYCLES
    sampler.assert_clean()
    cluster.wait_healthy()


def test_cli_deactivate_then_activate(cluster):
    name = "cnode-1"
    cluster.check_cli("cnode", "deactivate", "--name", name)
    n = cluster.node(name)
    assert n["state"] == "INACTIVE" and n["enabled"] is False, n
    cluster.check_cli("cnode", "activate", "--name", name)
    n = cluster.node(name)
    assert n["state"] == "ACTIVE" and n["enabled"] is True, n
    cluster.wait_healthy()
