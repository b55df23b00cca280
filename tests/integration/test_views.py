"""The VMS objects that S3 and NFS need: tenants, view policies, views, local users and their S3
keys, VIP pools and VIPs, through the REST API and the CLI, on one real cluster per module.

Each test uses its own names and paths, so the tests share the cluster without depending on
each other's leftovers."""
import json
import os
import signal

import pytest

import dase_harness as h

REQUIRED = ["This field is required."]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, request):
    data_dir = tmp_path_factory.mktemp("views") / "c"
    h.write_config(data_dir, restart=h.FAST_RESTART, name="views")
    c = h.Cluster(data_dir)
    failed_before = request.session.testsfailed
    c.up()
    yield c
    if request.session.testsfailed > failed_before and (c.data_dir / "logs").is_dir():
        print(c.log_tails(60))
    problems = h.teardown_cluster(c)
    if problems:
        pytest.fail("stopping the cluster went wrong:\n" + "\n".join(problems))


def post(cluster, path, body, status):
    r = cluster.request("POST", path, json=body)
    assert r.status_code == status, f"POST {path} {body} -> {r.status_code}: {r.text[:500]}"
    return r.json() if r.text else None


def patch(cluster, path, body, status=200):
    r = cluster.request("PATCH", path, json=body)
    assert r.status_code == status, f"PATCH {path} {body} -> {r.status_code}: {r.text[:500]}"
    return r.json() if r.text else None


def delete(cluster, path, status=204, **kw):
    r = cluster.request("DELETE", path, **kw)
    assert r.status_code == status, f"DELETE {path} -> {r.status_code}: {r.text[:500]}"
    return r


def field_error(cluster, path, body, field, method="POST"):
    """Sends a bad request; expects 400 with a DRF body naming `field`; returns its messages."""
    r = cluster.request(method, path, json=body)
    assert r.status_code == 400, f"{method} {path} {body} -> {r.status_code}: {r.text[:500]}"
    doc = r.json()
    assert field in doc and isinstance(doc[field], list) and doc[field], (
        f"{method} {path} {body}: expected an error on {field!r}, got {doc}")
    assert all(isinstance(m, str) and m for m in doc[field]), doc
    return doc[field]


def ls(cluster, path):
    p = h.estore(cluster, "ls", path, check=False)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def make_user(cluster, name, **extra):
    return post(cluster, "users/", dict(name=name, **extra), 201)


def held_vips(cluster):
    """{cnode name: sorted VIPs} from cnodes/."""
    return {n["name"]: sorted(n["vips"]) for n in cluster.get("cnodes/")}


# ---------------------------------------------------------------------------------------------


def test_seeded_objects(cluster):
    tenants = cluster.get("tenants/")
    assert [(t["id"], t["name"]) for t in tenants] == [(1, "default")], tenants
    assert cluster.get("tenants/1/")["name"] == "default"
    policies = {p["name"]: p for p in cluster.get("viewpolicies/")}
    assert policies["default"]["id"] == 1, policies
    assert policies["s3_default_policy"]["id"] == 2, policies
    assert policies["s3_default_policy"]["flavor"] == "S3_NATIVE"
    assert policies["s3_default_policy"]["is_s3_default_policy"] is True
    for p in policies.values():
        for key in ("guid", "url", "tenant_id", "nfs_read_write", "nfs_root_squash",
                    "nfs_all_squash", "nfs_no_squash", "s3_visibility", "s3_visibility_groups"):
            assert key in p, f"policy {p['name']} lacks {key}"
    pools = cluster.get("vippools/")
    default = [p for p in pools if p["name"] == "default"]
    assert len(default) == 1, pools
    assert default[0]["ip_ranges"] == [["127.0.10.1", "127.0.10.8"]]
    assert default[0]["role"] == "PROTOCOLS"
    assert default[0]["subnet_cidr"] == 8


def test_every_new_resource_requires_authentication(cluster):
    anonymous = cluster.new_session(auth=None)
    for path in ("tenants/", "tenants/1/", "viewpolicies/", "viewpolicies/1/", "views/",
                 "users/", "s3keys/", "vippools/", "vippools/1/", "vips/"):
        for method in ("GET", "POST"):
            r = cluster.request(method, path, session=anonymous, json={})
            assert r.status_code == 401, f"anonymous {method} {path} -> {r.status_code}"
        assert cluster.request("GET", path).status_code == 200, f"admin GET {path}"


def test_view_crud_and_create_dir(cluster):
    assert field_error(cluster, "views/", {"policy_id": 1}, "path") == REQUIRED
    assert field_error(cluster, "views/", {"path": "/x"}, "policy_id") == REQUIRED
    r = cluster.request("POST", "views/", json={})
    assert r.status_code == 400 and r.json() == {"path": REQUIRED, "policy_id": REQUIRED}, r.text
    for bad in ("relative/path", "/a/../b", "/a//b", "/a/", "/a/./b", "/a\u0000b"):
        field_error(cluster, "views/", {"path": bad, "policy_id": 1}, "path")
    field_error(cluster, "views/", {"path": "/x", "policy_id": 99}, "policy_id")
    field_error(cluster, "views/", {"path": "/x", "policy_id": "one"}, "policy_id")
    field_error(cluster, "views/", {"path": "/x", "policy_id": 1, "protocols": ["SMB"]},
                "protocols")
    field_error(cluster, "views/", {"path": "/x", "policy_id": 1, "protocols": "NFS"},
                "protocols")
    # The directory must exist, or create_dir makes it.
    msgs = field_error(cluster, "views/", {"path": "/crud/exports/a", "policy_id": 1}, "path")
    assert "create_dir" in msgs[0], msgs
    code, out, err = ls(cluster, "/crud")
    assert code != 0, f"a refused view created its directory: {out}"
    view = post(cluster, "views/", {"path": "/crud/exports/a", "policy_id": 1,
                                    "create_dir": True}, 201)
    assert view["path"] == "/crud/exports/a" and view["policy_id"] == 1, view
    assert view["name"] == f"view-{view['id']}" and view["tenant_id"] == 1, view
    assert view["protocols"] == ["NFS"] and view["policy"] == "default", view
    assert view["url"].endswith(f"/api/views/{view['id']}/"), view
    code, out, err = ls(cluster, "/crud/exports")
    assert code == 0 and "a/" in out.split(), f"create_dir made no directory: {out} {err}"
    # An existing directory is fine without create_dir.
    other = post(cluster, "views/", {"path": "/crud/exports", "policy_id": 1, "name": "crud-up"},
                 201)
    assert other["name"] == "crud-up"

    assert cluster.get(f"views/{view['id']}/") == view
    assert [v["id"] for v in cluster.get("views/?path=/crud/exports/a")] == [view["id"]]
    assert field_error(cluster, "views/", {"path": "/crud/exports/a", "policy_id": 1}, "path")
    field_error(cluster, "views/", {"path": "/crud/other", "policy_id": 1, "create_dir": True,
                                    "name": "crud-up"}, "name")
    changed = patch(cluster, f"views/{view['id']}/", {"name": "crud-a"})
    assert changed["name"] == "crud-a" and changed["path"] == view["path"], changed
    field_error(cluster, f"views/{view['id']}/", {"path": "/crud/exports"}, "path",
                method="PATCH")
    field_error(cluster, f"views/{view['id']}/", {"tenant_id": 2}, "tenant_id", method="PATCH")

    assert cluster.request("PUT", "views/").status_code == 405
    assert cluster.request("POST", f"views/{view['id']}/", json={}).status_code == 405
    assert cluster.request("GET", "views/999999/").status_code == 404
    assert cluster.request("GET", "views/abc/").status_code == 404
    for v in (view, other):
        delete(cluster, f"views/{v['id']}/")
        assert cluster.request("GET", f"views/{v['id']}/").status_code == 404
    delete(cluster, f"views/{view['id']}/", status=404)
    code, out, err = ls(cluster, "/crud/exports")
    assert code == 0 and "a/" in out.split(), "deleting a view deleted its directory"


def test_s3_views_need_a_valid_unique_bucket_and_an_owner(cluster):
    make_user(cluster, "s3owner")
    base = {"path": "/s3v/b1", "policy_id": 2, "protocols": ["S3"], "create_dir": True,
            "bucket_owner": "s3owner"}
    field_error(cluster, "views/", base, "bucket")
    for bad in ("ab", "Upper", "under_score", "-dash", "dot.", "a..b", "192.168.0.1",
                "x" * 64, "xn--punycode"):
        field_error(cluster, "views/", dict(base, bucket=bad), "bucket")
    field_error(cluster, "views/", dict(base, bucket="s3v-b1", bucket_owner="nobody"),
                "bucket_owner")
    field_error(cluster, "views/", dict(base, bucket="s3v-b1", bucket_owner=""), "bucket_owner")
    field_error(cluster, "views/", {"path": "/s3v/b1", "policy_id": 1, "create_dir": True,
                                    "bucket": "s3v-b1"}, "bucket")
    view = post(cluster, "views/", dict(base, bucket="s3v-b1"), 201)
    assert view["bucket"] == "s3v-b1" and view["bucket_owner"] == "s3owner", view
    assert view["protocols"] == ["S3"] and view["policy"] == "s3_default_policy", view
    # Bucket names are unique in the cluster, paths per tenant.
    field_error(cluster, "views/", dict(base, path="/s3v/b2", bucket="s3v-b1"), "bucket")
    field_error(cluster, "views/", dict(base, bucket="s3v-b2"), "path")
    both = post(cluster, "views/", dict(base, path="/s3v/b2", bucket="s3v-b2",
                                        protocols=["NFS", "S3"]), 201)
    assert [v["id"] for v in cluster.get("views/?bucket=s3v-b2")] == [both["id"]]
    # The owner of a bucket cannot go while the bucket is there.
    owner = cluster.get("users/?name=s3owner")[0]
    r = cluster.request("DELETE", f"users/{owner['id']}/")
    assert r.status_code == 409 and "s3v-b" in r.json()["detail"], r.text
    moved = patch(cluster, f"views/{both['id']}/", {"bucket": "s3v-b3"})
    assert moved["bucket"] == "s3v-b3"
    post(cluster, "views/", dict(base, path="/s3v/b4", bucket="s3v-b2"), 201)  # freed by the move
    for v in cluster.get("views/?path__startswith=/s3v/"):
        delete(cluster, f"views/{v['id']}/")
    delete(cluster, f"users/{owner['id']}/")


def test_view_policies(cluster):
    field_error(cluster, "viewpolicies/", {}, "name")
    field_error(cluster, "viewpolicies/", {"name": "vp-bad", "flavor": "POSIX"}, "flavor")
    field_error(cluster, "viewpolicies/", {"name": "vp-bad", "nfs_read_only": ["not a host"]},
                "nfs_read_only")
    field_error(cluster, "viewpolicies/", {"name": "vp-bad", "nfs_root_squash": "*"},
                "nfs_root_squash")
    p = post(cluster, "viewpolicies/", {"name": "vp-ro", "flavor": "MIXED_LAST_WINS",
                                         "nfs_read_write": [], "nfs_read_only": ["10.0.0.0/8"],
                                         "nfs_root_squash": ["*"], "s3_visibility": ["bob"]}, 201)
    assert p["flavor"] == "MIXED_LAST_WINS" and p["nfs_read_only"] == ["10.0.0.0/8"], p
    assert p["nfs_read_write"] == [] and p["nfs_root_squash"] == ["*"], p
    assert p["s3_visibility"] == ["bob"] and p["tenant_id"] == 1 and p["count_views"] == 0, p
    assert cluster.get(f"viewpolicies/{p['id']}/") == p
    field_error(cluster, "viewpolicies/", {"name": "vp-ro"}, "name")
    changed = patch(cluster, f"viewpolicies/{p['id']}/", {"nfs_all_squash": ["127.0.0.1"]})
    assert changed["nfs_all_squash"] == ["127.0.0.1"] and changed["nfs_read_only"] == [
        "10.0.0.0/8"], changed

    view = post(cluster, "views/", {"path": "/vp/ro", "policy_id": p["id"], "create_dir": True},
                201)
    assert cluster.get(f"viewpolicies/{p['id']}/")["count_views"] == 1
    r = cluster.request("DELETE", f"viewpolicies/{p['id']}/")
    assert r.status_code == 409 and view["name"] in r.json()["detail"], r.text
    for default in (1, 2):
        r = cluster.request("DELETE", f"viewpolicies/{default}/")
        assert r.status_code == 409 and "detail" in r.json(), r.text
    delete(cluster, f"views/{view['id']}/")
    delete(cluster, f"viewpolicies/{p['id']}/")
    delete(cluster, f"viewpolicies/{p['id']}/", status=404)


def test_tenants(cluster):
    field_error(cluster, "tenants/", {}, "name")
    field_error(cluster, "tenants/", {"name": "default"}, "name")
    t = post(cluster, "tenants/", {"name": "t-other"}, 201)
    assert t["id"] > 1
    p = post(cluster, "viewpolicies/", {"name": "t-policy", "tenant_id": t["id"]}, 201)
    # A view and its policy belong to one tenant.
    field_error(cluster, "views/", {"path": "/t/x", "policy_id": p["id"], "create_dir": True},
                "policy_id")
    v = post(cluster, "views/", {"path": "/t/x", "policy_id": p["id"], "tenant_id": t["id"],
                                 "create_dir": True}, 201)
    assert v["tenant_name"] == "t-other"
    assert cluster.request("DELETE", f"tenants/{t['id']}/").status_code == 409
    assert cluster.request("DELETE", "tenants/1/").status_code == 409
    delete(cluster, f"views/{v['id']}/")
    delete(cluster, f"viewpolicies/{p['id']}/")
    delete(cluster, f"tenants/{t['id']}/")


def test_users_and_access_keys(cluster):
    assert field_error(cluster, "users/", {"uid": 5}, "name") == REQUIRED
    field_error(cluster, "users/", {"name": "u-bad", "uid": -1}, "uid")
    field_error(cluster, "users/", {"name": "u-bad", "allow_create_bucket": "yes"},
                "allow_create_bucket")
    field_error(cluster, "users/", {"name": "u-bad", "password": "secret"}, "password")
    alice = make_user(cluster, "u-alice", uid=2001, leading_gid=2000, allow_create_bucket=True)
    assert alice["uid"] == 2001 and alice["leading_gid"] == 2000, alice
    assert alice["allow_create_bucket"] is True and alice["allow_delete_bucket"] is False, alice
    assert alice["s3_superuser"] is False and alice["access_keys"] == [], alice
    field_error(cluster, "users/", {"name": "u-alice"}, "name")
    field_error(cluster, "users/", {"name": "u-other", "uid": 2001}, "uid")
    changed = patch(cluster, f"users/{alice['id']}/", {"s3_superuser": True, "uid": None})
    assert changed["s3_superuser"] is True and changed["uid"] is None, changed
    field_error(cluster, f"users/{alice['id']}/", {"name": "x"}, "name", method="PATCH")

    keys_path = f"users/{alice['id']}/access_keys/"
    pairs = [post(cluster, keys_path, {}, 200) for _ in range(2)]
    for pair in pairs:
        assert set(pair) == {"access_key", "secret_key"}, pair
        assert len(pair["access_key"]) == 20 and pair["access_key"].isalnum(), pair
        assert pair["access_key"] == pair["access_key"].upper(), pair
        assert len(pair["secret_key"]) == 40, pair
    assert pairs[0]["access_key"] != pairs[1]["access_key"]
    r = cluster.request("GET", f"users/{alice['id']}/")
    assert r.status_code == 200
    for pair in pairs:
        assert pair["secret_key"] not in r.text, "users/<id>/ shows a secret key"
    listing = cluster.request("GET", "users/")
    assert all(p["secret_key"] not in listing.text for p in pairs), "users/ shows a secret key"
    keys = {k["access_key"]: k for k in r.json()["access_keys"]}
    assert set(keys) == {p["access_key"] for p in pairs}, keys
    assert all(k["enabled"] and k["status"] == "enabled" for k in keys.values()), keys

    first = pairs[0]["access_key"]
    assert cluster.request("PATCH", keys_path, json={"access_key": first,
                                                     "enabled": False}).status_code == 204
    keys = {k["access_key"]: k for k in cluster.get(f"users/{alice['id']}/")["access_keys"]}
    assert keys[first]["enabled"] is False and keys[first]["status"] == "disabled"
    field_error(cluster, keys_path, {}, "access_key", method="DELETE")
    delete(cluster, keys_path, json={"access_key": first})
    keys = [k["access_key"] for k in cluster.get(f"users/{alice['id']}/")["access_keys"]]
    assert keys == [pairs[1]["access_key"]], keys
    field_error(cluster, keys_path, {"access_key": first}, "access_key", method="DELETE")
    assert cluster.request("GET", keys_path).status_code == 405
    assert cluster.request("POST", "users/999999/access_keys/", json={}).status_code == 404

    delete(cluster, f"users/{alice['id']}/")
    assert cluster.request("GET", f"users/{alice['id']}/").status_code == 404


def test_s3keys_belong_to_the_requesting_user(cluster):
    assert cluster.get("s3keys/") == []
    r = cluster.request("POST", "s3keys/")
    assert r.status_code == 400 and "users/" in r.json()["detail"], r.text
    admin = make_user(cluster, "admin")
    pair = post(cluster, "s3keys/", {}, 201)
    assert len(pair["access_key"]) == 20 and len(pair["secret_key"]) == 40, pair
    listed = cluster.get("s3keys/")
    assert [k["access_key"] for k in listed] == [pair["access_key"]], listed
    assert pair["secret_key"] not in json.dumps(listed)
    user_keys = cluster.get(f"users/{admin['id']}/")["access_keys"]
    assert [k["access_key"] for k in user_keys] == [pair["access_key"]]
    delete(cluster, f"s3keys/{pair['access_key']}/")
    delete(cluster, f"s3keys/{pair['access_key']}/", status=404)
    assert cluster.get("s3keys/") == []
    delete(cluster, f"users/{admin['id']}/")


def test_vip_pools_are_validated_and_spread(cluster):
    cnode_ids = [n["id"] for n in cluster.get("cnodes/")]
    base = {"name": "vp-extra", "subnet_cidr": 24}
    field_error(cluster, "vippools/", {"name": "vp-x", "subnet_cidr": 24}, "ip_ranges")
    field_error(cluster, "vippools/", {"name": "vp-x", "ip_ranges": [["127.0.30.1",
                                                                      "127.0.30.2"]]},
                "subnet_cidr")
    for ranges in ([["127.0.10.8", "127.0.10.9"]],         # overlaps the default pool
                   [["10.0.0.1", "10.0.0.4"]],             # not loopback
                   [["127.0.30.9", "127.0.30.1"]],         # ends before it starts
                   [["127.0.30.0", "127.0.31.0"]],         # 257 addresses
                   [["127.0.30.1", "not-an-ip"]],
                   [["127.0.30.1"]],
                   [["127.0.30.1", "127.0.30.4"], ["127.0.30.4", "127.0.30.5"]]):
        field_error(cluster, "vippools/", dict(base, ip_ranges=ranges), "ip_ranges")
    field_error(cluster, "vippools/", dict(base, ip_ranges=[["127.0.30.1", "127.0.30.4"]],
                                           subnet_cidr=33), "subnet_cidr")
    field_error(cluster, "vippools/", dict(base, ip_ranges=[["127.0.30.1", "127.0.30.4"]],
                                           cnode_ids=[999]), "cnode_ids")
    field_error(cluster, "vippools/", dict(base, ip_ranges=[["127.0.30.1", "127.0.30.4"]],
                                           role="REPLICATION"), "role")

    pool = post(cluster, "vippools/", dict(base, ip_ranges=[["127.0.30.1", "127.0.30.4"]]), 201)
    assert pool["ip_ranges"] == [["127.0.30.1", "127.0.30.4"]] and pool["subnet_cidr"] == 24
    holders = {v["ip"]: v["cnode"] for v in cluster.get("vips/") if v["vippool"] == "vp-extra"}
    assert sorted(holders) == [f"127.0.30.{i}" for i in range(1, 5)], holders
    assert len(set(holders.values())) == len(cnode_ids), f"4 VIPs not on 4 CNodes: {holders}"
    field_error(cluster, "vippools/", {"name": "vp-extra", "subnet_cidr": 24,
                                       "ip_ranges": [["127.0.31.1", "127.0.31.1"]]}, "name")

    # Dedicated to two CNodes, then disabled, then gone.
    dedicated = patch(cluster, f"vippools/{pool['id']}/", {"cnode_ids": cnode_ids[:2]})
    assert dedicated["cnode_ids"] == cnode_ids[:2]
    names = {n["id"]: n["name"] for n in cluster.get("cnodes/")}
    holders = {v["ip"]: v["cnode"] for v in cluster.get("vips/") if v["vippool"] == "vp-extra"}
    assert set(holders.values()) == {names[i] for i in cnode_ids[:2]}, holders
    patch(cluster, f"vippools/{pool['id']}/", {"enabled": False})
    holders = {v["ip"]: v["cnode"] for v in cluster.get("vips/") if v["vippool"] == "vp-extra"}
    assert set(holders.values()) == {""}, holders
    delete(cluster, f"vippools/{pool['id']}/")
    assert not [v for v in cluster.get("vips/") if v["vippool"] == "vp-extra"]
    assert all(not ip.startswith("127.0.30.") for ips in held_vips(cluster).values() for ip in ips)


def test_vips_move_off_a_deactivated_cnode_and_come_back(cluster):
    cluster.wait_healthy()
    before = held_vips(cluster)
    assert sorted(ip for ips in before.values() for ip in ips) == sorted(
        f"127.0.10.{i}" for i in range(1, 9)), before
    assert sorted(len(ips) for ips in before.values()) == [2, 2, 2, 2], before

    task = cluster.patch_enabled("cnode-2", False)
    assert cluster.wait_vtask(task["id"])["state"] == "COMPLETED"
    during = held_vips(cluster)
    assert during["cnode-2"] == [], during
    assert sorted(ip for ips in during.values() for ip in ips) == sorted(
        ip for ips in before.values() for ip in ips), "a VIP was lost"
    for name in ("cnode-1", "cnode-3", "cnode-4"):
        assert set(before[name]) <= set(during[name]), f"{name} lost a VIP: {before} {during}"
        assert len(during[name]) in (2, 3), during
    code, status = cluster.status()
    assert code == 0 and status is not None
    from_status = {}
    for v in status["vips"]:
        from_status.setdefault(v["cnode"], []).append(v["ip"])
    assert {k: sorted(v) for k, v in from_status.items()} == {
        k: v for k, v in during.items() if v}, status["vips"]

    task = cluster.patch_enabled("cnode-2", True)
    assert cluster.wait_vtask(task["id"])["state"] == "COMPLETED"
    after = h.wait_until(lambda: (v := held_vips(cluster)) and len(v["cnode-2"]) == 2 and v,
                         h.WAIT_S, "cnode-2 to hold two VIPs again")
    assert sorted(len(ips) for ips in after.values()) == [2, 2, 2, 2], after
    for name in ("cnode-1", "cnode-3", "cnode-4"):
        assert set(after[name]) <= set(during[name]), f"{name} took a VIP while giving: {after}"
    p = cluster.check_cli("status")
    assert "cnode-2" in p.stdout and "127.0.10." in p.stdout


def test_objects_and_vips_survive_a_vms_restart(cluster):
    make_user(cluster, "r-user")
    view = post(cluster, "views/", {"path": "/restart/v", "policy_id": 1, "create_dir": True},
                201)
    vips = held_vips(cluster)
    monitor = cluster.monitor_pid()
    vms = cluster.vms_pid()
    os.kill(vms, signal.SIGKILL)

    def new_vms_answers():
        pids = [p for p in h.children_of(monitor) if h.is_role(p, "vms")]
        if pids == [vms] or not pids:
            return None
        return cluster.request("GET", "clusters/", timeout=5).status_code == 200

    h.wait_until(new_vms_answers, h.WAIT_S, "a new VMS answering the API")
    cluster.wait_healthy()
    assert cluster.get(f"views/{view['id']}/")["path"] == "/restart/v"
    assert [u["name"] for u in cluster.get("users/?name=r-user")] == ["r-user"]
    assert held_vips(cluster) == vips, "VIPs moved although no CNode changed state"
    user = cluster.get("users/?name=r-user")[0]
    delete(cluster, f"views/{view['id']}/")
    delete(cluster, f"users/{user['id']}/")


def test_cli_object_commands(cluster):
    p = cluster.check_cli("user", "create", "--name", "cli-bob", "--uid", "3001",
                          "--allow-create-bucket", "--json")
    bob = json.loads(p.stdout)
    assert bob["name"] == "cli-bob" and bob["uid"] == 3001 and bob["allow_create_bucket"], bob
    p = cluster.cli("user", "create", "--name", "cli-bob")
    assert p.returncode != 0 and "name" in p.stderr, p.stderr

    p = cluster.check_cli("user", "access-key", "create", "cli-bob")
    lines = dict(line.split(": ", 1) for line in p.stdout.strip().splitlines())
    assert len(lines["access_key"]) == 20 and len(lines["secret_key"]) == 40, p.stdout
    p = cluster.check_cli("user", "show", "cli-bob")
    assert lines["access_key"] in p.stdout and lines["secret_key"] not in p.stdout
    cluster.check_cli("user", "access-key", "delete", "cli-bob", lines["access_key"])
    assert cluster.get(f"users/{bob['id']}/")["access_keys"] == []
    p = cluster.cli("user", "access-key", "delete", "cli-bob", lines["access_key"])
    assert p.returncode != 0 and "access_key" in p.stderr, p.stderr

    cluster.check_cli("viewpolicy", "create", "--name", "cli-policy", "--flavor", "NFS",
                      "--nfs-read-only", "10.0.0.0/8,127.0.0.1", "--nfs-read-write", "*")
    p = cluster.check_cli("viewpolicy", "show", "cli-policy", "--json")
    policy = json.loads(p.stdout)
    assert policy["nfs_read_only"] == ["10.0.0.0/8", "127.0.0.1"], policy
    assert "cli-policy" in cluster.check_cli("viewpolicy", "list").stdout

    p = cluster.cli("view", "create", "--path", "/cli/bucket", "--protocols", "NFS,S3",
                    "--bucket", "cli-bucket", "--bucket-owner", "cli-bob")
    assert p.returncode != 0 and "create_dir" in p.stderr, p.stderr
    p = cluster.check_cli("view", "create", "--path", "/cli/bucket", "--policy", "cli-policy",
                          "--protocols", "NFS,S3", "--bucket", "cli-bucket", "--bucket-owner",
                          "cli-bob", "--create-dir", "--name", "cli-view", "--json")
    view = json.loads(p.stdout)
    assert view["protocols"] == ["NFS", "S3"] and view["policy"] == "cli-policy", view
    code, out, err = ls(cluster, "/cli")
    assert code == 0 and "bucket/" in out.split(), out
    listing = cluster.check_cli("view", "list").stdout
    assert "cli-view" in listing and "/cli/bucket" in listing and "cli-bucket" in listing
    assert "cli-bucket" in cluster.check_cli("view", "show", str(view["id"])).stdout
    p = cluster.cli("view", "create", "--path", "/cli/bucket", "--create-dir")
    assert p.returncode != 0 and "path" in p.stderr, p.stderr
    p = cluster.cli("viewpolicy", "delete", "cli-policy")
    assert p.returncode != 0 and "cli-view" in p.stderr, p.stderr
    p = cluster.cli("view", "show", "no-such-view")
    assert p.returncode != 0 and "no view named no-such-view" in p.stderr, p.stderr

    p = cluster.check_cli("vippool", "create", "--name", "cli-pool", "--range",
                          "127.0.40.1-127.0.40.2", "--range", "127.0.40.9", "--json")
    pool = json.loads(p.stdout)
    assert pool["ip_ranges"] == [["127.0.40.1", "127.0.40.2"], ["127.0.40.9", "127.0.40.9"]]
    assert "cli-pool" in cluster.check_cli("vippool", "list").stdout
    p = cluster.cli("vippool", "create", "--range", "127.0.40.2-127.0.40.3")
    assert p.returncode != 0 and "ip_ranges" in p.stderr, p.stderr

    cluster.check_cli("vippool", "delete", "cli-pool")
    cluster.check_cli("view", "delete", "cli-view")
    cluster.check_cli("viewpolicy", "delete", "cli-policy")
    cluster.check_cli("user", "delete", "cli-bob")
    for noun in ("view", "viewpolicy", "user", "vippool"):
        p = cluster.check_cli(noun, "list", "--json")
        assert not [o for o in json.loads(p.stdout) if o["name"].startswith("cli-")], p.stdout
    p = cluster.run("view", "list", "--data-dir", cluster.data_dir / "nothing-here")
    assert p.returncode != 0 and "no cluster" in p.stderr, p.stderr
