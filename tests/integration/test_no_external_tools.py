"""The runtime needs no external program: the cluster starts with an empty PATH."""
import os
import shutil

TOOLS = ("ssh", "rsync", "ipmitool", "pip", "pip3", "sh", "bash", "sudo", "curl", "openssl")


def test_up_with_an_empty_path(make_cluster, tmp_path):
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    (empty_bin / "nothing").symlink_to(tmp_path / "does-not-exist")
    for tool in TOOLS:
        assert shutil.which(tool, path=str(empty_bin)) is None, f"{tool} is reachable"

    cluster = make_cluster(up=False)
    env = dict(os.environ, PATH=str(empty_bin))
    cluster.up(env=env)
    cluster.wait_healthy()
    monitor_path = None
    environ = open(f"/proc/{cluster.monitor_pid()}/environ", "rb").read().split(b"\0")
    for var in environ:
        if var.startswith(b"PATH="):
            monitor_path = var[5:].decode()
    print(f"monitor PATH={monitor_path!r}")
    assert monitor_path in (None, str(empty_bin)), f"the monitor runs with PATH={monitor_path}"
    rc, st = cluster.status()
    assert rc == 0 and st["cluster"]["state"] == "ONLINE", st
    assert all(n["state"] == "ACTIVE" for n in st["nodes"]), st["nodes"]
    cluster.down()
