"""Cluster lifecycle through the CLI: up, status, help, graceful down and up with state kept,
idempotent up, two clusters side by side, the admin password's secrecy."""
import json
import os
import re
import subprocess

import dase_harness as h

NODE_NAMES = {f"{r}-{i}" for r in h.ROLES for i in range(1, 5)}


def check_online(cluster):
    """Asserts the cluster is ONLINE with its 8 nodes ACTIVE, through both `status --json` and
    the API, and that every node is its own live process. Returns the status nodes by name."""
    rc, st = cluster.status()
    assert rc == 0, f"status exited {rc}"
    assert st is not None, "status --json did not print JSON"
    assert st["cluster"]["state"] == "ONLINE", st["cluster"]
    nodes = {n["name"]: n for n in st["nodes"]}
    assert set(nodes) == NODE_NAMES, f"status nodes: {sorted(nodes)}"
    for name, n in nodes.items():
        assert n["role"] == name.split("-")[0], n
        assert n["state"] == "ACTIVE", n
        assert n["enabled"] is True, n
    assert st["endpoints"]["vms"] == cluster.base_url, st["endpoints"]

    pids = [n["pid"] for n in nodes.values()]
    assert all(isinstance(p, int) and p > 0 for p in pids), f"pids: {pids}"
    assert len(set(pids)) == len(pids), f"pids are not distinct: {pids}"
    monitor = cluster.monitor_pid()
    assert h.pid_alive(monitor), f"monitor pid {monitor} is not alive"
    for name, n in nodes.items():
        assert n["pid"] != monitor, f"{name} runs in the monitor process"
        assert os.path.isdir(f"/proc/{n['pid']}"), f"{name}: /proc/{n['pid']} does not exist"
        assert h.pid_alive(n["pid"]), f"{name}: pid {n['pid']} is not a live process"

    assert cluster.cluster_obj()["state"] == "ONLINE"
    api = cluster.nodes()
    assert set(api) == NODE_NAMES, f"API nodes: {sorted(api)}"
    for name, n in api.items():
        assert n["state"] == "ACTIVE", n
        assert n["enabled"] is True, n
        assert n["pid"] == nodes[name]["pid"], f"{name}: API pid {n['pid']} != status pid"
    return nodes


def test_up_reaches_online_with_all_nodes_active(make_cluster):
    cluster = make_cluster(up=False)
    p = cluster.up()
    assert re.search(r"cluster ONLINE in \d+\.\d\d s", p.stdout), p.stdout
    check_online(cluster)

    show = cluster.check_cli("cluster", "show", "--json")
    shown = json.loads(show.stdout)
    shown = shown[0] if isinstance(shown, list) else shown.get("cluster", shown)
    assert shown["state"] == "ONLINE", show.stdout
    for role in h.ROLES:
        listed = json.loads(cluster.check_cli(role, "list", "--json").stdout)
        assert sorted(n["name"] for n in listed) == [f"{role}-{i}" for i in range(1, 5)]
        one = json.loads(cluster.check_cli(role, "show", "--name", f"{role}-2", "--json").stdout)
        assert one["name"] == f"{role}-2" and one["state"] == "ACTIVE", one


def test_help_on_every_command(tmp_path):
    c = h.Cluster(tmp_path / "unused")
    commands = [["up"], ["down"], ["status"], ["cluster"], ["cluster", "show"], ["cnode"],
                ["dnode"], ["cnode", "list"], ["cnode", "activate"], ["dnode", "deactivate"]]
    for cmd in commands:
        p = c.run(*cmd, "--help")
        assert p.returncode == 0, f"dase {' '.join(cmd)} --help exited {p.returncode}"
        assert "usage" in p.stdout.lower(), f"dase {' '.join(cmd)} --help: {p.stdout!r}"
    for cmd in (["up"], ["down"], ["status"]):
        assert "--data-dir" in c.run(*cmd, "--help").stdout, cmd
    assert "--no-wait" in c.run("cnode", "activate", "--help").stdout


def test_up_detach_does_not_hold_the_callers_output(make_cluster):
    """`x=$(dase up --detach)` must return: the detached monitor may not keep our pipes."""
    cluster = make_cluster(up=False)
    argv = [cluster.binary, "up", "--detach", "--data-dir", str(cluster.data_dir),
            "--timeout", str(h.UP_TIMEOUT_S)]
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=h.CMD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise AssertionError("`dase up --detach` with piped output did not finish: a detached "
                             "process kept the pipe open, or up never returned")
    cluster.remember_pids()
    assert p.returncode == 0, p.stderr
    assert "ONLINE" in p.stdout, p.stdout


def test_graceful_down_and_up_keep_state(cluster):
    cluster.check_cli("cnode", "deactivate", "--name", "cnode-3")
    assert cluster.node("cnode-3")["state"] == "INACTIVE"
    r = cluster.request("POST", "apitokens/", json={"name": "lifecycle"})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    guid = cluster.cluster_obj()["guid"]
    password = cluster.password()
    old_port = cluster.monitor_info()["api_port"]

    cluster.down()
    left = cluster.live_known_pids()
    assert not left, f"processes alive after a graceful down returned: {left}"
    rc, st = cluster.status()
    assert rc == 3, f"status of a stopped cluster exited {rc}, expected 3"
    assert st is not None and st["cluster"]["state"] == "OFFLINE", st

    cluster.up()
    print(f"API port before: {old_port}, after: {cluster.monitor_info()['api_port']}")
    assert cluster.password() == password, "admin.password changed on restart"
    c = cluster.cluster_obj()
    assert c["guid"] == guid, f"cluster guid changed: {guid} -> {c['guid']}"
    assert c["state"] == "ONLINE", c
    basic = cluster.new_session(auth=None)
    basic.auth = ("admin", password)
    assert cluster.request("GET", "clusters/", session=basic).status_code == 200
    by_token = cluster.new_session(auth=None)
    by_token.headers["Authorization"] = f"Api-Token {token}"
    r = cluster.request("GET", "clusters/", session=by_token)
    assert r.status_code == 200, f"API token lost on restart: {r.status_code} {r.text}"

    nodes = cluster.nodes()
    assert nodes["cnode-3"]["state"] == "INACTIVE", nodes["cnode-3"]
    assert nodes["cnode-3"]["enabled"] is False, nodes["cnode-3"]
    for name, n in nodes.items():
        if name != "cnode-3":
            assert n["state"] == "ACTIVE" and n["enabled"] is True, n
    rc, st = cluster.status()
    by_name = {n["name"]: n for n in st["nodes"]}
    assert by_name["cnode-3"]["state"] == "INACTIVE" and by_name["cnode-3"]["enabled"] is False


def test_status_of_a_never_started_dir_is_offline(tmp_path):
    c = h.Cluster(tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    rc, st = c.status()
    assert rc == 3, f"status exited {rc}, expected 3"
    assert st is not None and st["cluster"]["state"] == "OFFLINE", st


def test_up_on_a_running_cluster_is_a_no_op(cluster):
    monitor = cluster.monitor_pid()
    before = {n: v["pid"] for n, v in cluster.nodes().items()}
    p = cluster.up()
    assert p.returncode == 0
    assert cluster.monitor_pid() == monitor, "a second monitor was started"
    after = {n: v["pid"] for n, v in cluster.nodes().items()}
    assert after == before, f"nodes restarted by a second up: {before} -> {after}"
    check_online(cluster)


def test_two_clusters_side_by_side(make_cluster):
    a = make_cluster("a")
    b = make_cluster("b")
    assert a.monitor_info()["api_port"] != b.monitor_info()["api_port"]
    na = check_online(a)
    nb = check_online(b)
    assert a.cluster_obj()["guid"] != b.cluster_obj()["guid"]
    assert not ({n["pid"] for n in na.values()} & {n["pid"] for n in nb.values()})
    b.down()
    check_online(a)


def test_admin_password_is_private(make_cluster):
    cluster = make_cluster(up=False)
    p = cluster.up()
    password = cluster.password()
    assert len(password) >= 12, f"admin password is short: {len(password)} chars"
    pw_file = cluster.data_dir / "admin.password"
    assert h.file_mode(pw_file) == 0o600, oct(h.file_mode(pw_file))
    # The metadata store holds the password hash, the JWT key and S3 secret keys.
    meta_dir = cluster.data_dir / "meta"
    assert h.file_mode(meta_dir) == 0o700, oct(h.file_mode(meta_dir))
    assert password not in p.stdout + p.stderr, "`dase up` printed the password"
    # Make the VMS use it: a login, a JWT, a token.
    r = cluster.request("POST", "token/", session=cluster.new_session(auth=None),
                        json={"username": "admin", "password": password})
    assert r.status_code == 200, r.text
    assert cluster.request("POST", "apitokens/", json={"name": "t"}).status_code == 201

    def files_holding_password():
        hits = []
        for root, _, files in os.walk(cluster.data_dir):
            for f in files:
                path = os.path.join(root, f)
                if os.path.samefile(path, pw_file) or not os.path.isfile(path):
                    continue
                if password.encode() in h.read_allocated(path):
                    hits.append(path)
        return hits

    assert not files_holding_password(), "password found while running"
    assert (cluster.data_dir / "meta" / "meta.db").is_file(), "no meta/meta.db to check"
    cluster.down()
    assert not files_holding_password(), "password found after down"
