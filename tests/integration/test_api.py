"""The VMS-style REST API: authentication, prefixes, list shapes, filters, projections, errors,
and bad input that must not take the server down."""
import base64

import requests

import dase_harness as h

INVALID_TOKEN = {"detail": "Token is invalid or expired"}
PREFIXES = ["/api/", "/api/latest/"] + [f"/api/v{i}/" for i in range(1, 8)]


def anonymous(cluster):
    return cluster.new_session(auth=None)


def with_header(cluster, value):
    s = anonymous(cluster)
    s.headers["Authorization"] = value
    return s


def assert_invalid_token(r, what):
    assert r.status_code == 403, f"{what}: expected 403, got {r.status_code} {r.text[:300]}"
    assert r.json() == INVALID_TOKEN, f"{what}: body {r.text[:300]}"


def resource_paths(cluster):
    cluster_id = cluster.cluster_obj()["id"]
    cnode_id = cluster.node("cnode-1")["id"]
    dnode_id = cluster.node("dnode-1")["id"]
    return ["clusters/", f"clusters/{cluster_id}/", "cnodes/", f"cnodes/{cnode_id}/", "dnodes/",
            f"dnodes/{dnode_id}/", "vtasks/", "versions/", "events/", "apitokens/"]


def test_authentication_is_required_everywhere(cluster):
    paths = resource_paths(cluster)
    anon = anonymous(cluster)
    wrong = anonymous(cluster)
    wrong.auth = ("admin", cluster.password() + "x")
    nobody = anonymous(cluster)
    nobody.auth = ("nobody", cluster.password())
    rng = h.seeded_rng("garbage tokens")
    fake_jwt = ".".join(base64.urlsafe_b64encode(rng.randbytes(24)).decode().rstrip("=")
                        for _ in range(3))
    for path in paths:
        for prefix in ("/api/", "/api/v5/"):
            r = cluster.request("GET", path, session=anon, prefix=prefix)
            assert r.status_code == 401, f"anonymous GET {prefix}{path} -> {r.status_code}"
            r = cluster.request("GET", path, session=wrong, prefix=prefix)
            assert r.status_code == 401, f"wrong password GET {prefix}{path} -> {r.status_code}"
        r = cluster.request("GET", path, session=nobody)
        assert r.status_code == 401, f"unknown user GET {path} -> {r.status_code}"
        for header in ("Bearer garbage", f"Bearer {fake_jwt}", "Api-Token garbage",
                       f"Api-Token {rng.randbytes(20).hex()}"):
            r = cluster.request("GET", path, session=with_header(cluster, header))
            assert_invalid_token(r, f"GET {path} with {header.split()[0]} garbage")
        assert cluster.request("GET", path).status_code == 200, f"admin GET {path}"
    r = cluster.request("PATCH", paths[3], session=anon, json={"enabled": False})
    assert r.status_code == 401, f"anonymous PATCH -> {r.status_code}"
    assert cluster.node("cnode-1")["state"] == "ACTIVE"
    r = cluster.request("POST", "token/", session=anon,
                        json={"username": "admin", "password": cluster.password() + "x"})
    assert r.status_code == 401, f"token/ with a wrong password -> {r.status_code} {r.text}"
    assert "access" not in r.text


def test_jwt_and_refresh(cluster):
    anon = anonymous(cluster)
    r = cluster.request("POST", "token/", session=anon,
                        json={"username": "admin", "password": cluster.password()})
    assert r.status_code == 200, r.text
    pair = r.json()
    assert pair.get("access") and pair.get("refresh"), pair
    r = cluster.request("GET", "cnodes/", session=with_header(cluster, f"Bearer {pair['access']}"))
    assert r.status_code == 200 and len(r.json()) == 4, r.text

    r = cluster.request("POST", "token/refresh/", session=anon, json={"refresh": pair["refresh"]})
    assert r.status_code == 200, r.text
    access2 = r.json().get("access")
    assert access2, r.text
    r = cluster.request("GET", "clusters/", session=with_header(cluster, f"Bearer {access2}"))
    assert r.status_code == 200, f"refreshed access token refused: {r.status_code} {r.text}"

    # A refresh token is not an access token, and a tampered token is invalid.
    as_access = with_header(cluster, f"Bearer {pair['refresh']}")
    r = cluster.request("GET", "clusters/", session=as_access)
    assert_invalid_token(r, "refresh token used as Bearer")
    head, body, sig = pair["access"].split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    r = cluster.request("GET", "clusters/",
                        session=with_header(cluster, f"Bearer {head}.{body}.{flipped}"))
    assert_invalid_token(r, "access token with a changed signature")
    for bad in (pair["access"], "garbage"):
        r = cluster.request("POST", "token/refresh/", session=anon, json={"refresh": bad})
        assert 400 <= r.status_code < 500 and "access" not in r.text, (
            f"refresh with {bad[:10]}...: {r.status_code} {r.text}")


def test_api_tokens_work_until_revoked(cluster):
    r = cluster.request("POST", "apitokens/", json={"name": "ci"})
    assert r.status_code == 201, r.text
    created = r.json()
    token, token_id = created["token"], created["id"]
    assert token and token_id is not None, created
    by_token = with_header(cluster, f"Api-Token {token}")
    r = cluster.request("GET", "cnodes/", session=by_token)
    assert r.status_code == 200 and len(r.json()) == 4, r.text

    listing = cluster.request("GET", "apitokens/")
    assert listing.status_code == 200
    assert token not in listing.text, "apitokens/ shows the token"
    mine = [t for t in listing.json() if t["id"] == token_id]
    assert len(mine) == 1 and mine[0]["name"] == "ci", listing.text
    for t in listing.json():
        leaked = [k for k in t if "hash" in k.lower() or "secret" in k.lower() or k == "token"]
        assert not leaked, f"apitokens/ object has fields {leaked}: {t}"
    r = cluster.request("GET", f"apitokens/{token_id}/")
    if r.status_code == 200:
        assert token not in r.text, "apitokens/<id>/ shows the token"

    r = cluster.request("PATCH", f"apitokens/{token_id}/revoke")
    assert r.status_code in (200, 204), f"revoke -> {r.status_code} {r.text}"
    assert_invalid_token(cluster.request("GET", "cnodes/", session=by_token), "revoked token")
    assert cluster.request("GET", "cnodes/").status_code == 200


def identity(nodes):
    return sorted((n["id"], n["guid"], n["name"]) for n in nodes)


def test_every_prefix_serves_the_same_list(cluster):
    reference = identity(cluster.get("cnodes/"))
    assert len(reference) == 4
    for prefix in PREFIXES:
        for path in ("cnodes/", "cnodes"):
            r = cluster.request("GET", path, prefix=prefix)
            assert r.status_code == 200, f"GET {prefix}{path} -> {r.status_code} {r.text[:200]}"
            assert identity(r.json()) == reference, f"GET {prefix}{path} differs"
    cid = cluster.node("cnode-2")["id"]
    for prefix in ("/api/", "/api/latest/", "/api/v7/"):
        for path in (f"cnodes/{cid}/", f"cnodes/{cid}"):
            r = cluster.request("GET", path, prefix=prefix)
            assert r.status_code == 200 and r.json()["name"] == "cnode-2", f"{prefix}{path}"


def test_list_shapes_and_pagination(cluster):
    for resource in ("cnodes/", "dnodes/"):
        bare = cluster.get(resource)
        assert isinstance(bare, list) and len(bare) == 4, bare
        page1 = cluster.get(resource, params={"page_size": 2})
        assert isinstance(page1, dict), f"{resource}?page_size=2 is not an envelope: {page1!r}"
        assert set(page1) >= {"count", "next", "previous", "results"}, page1.keys()
        assert page1["count"] == 4 and len(page1["results"]) == 2, page1
        assert page1["previous"] is None, page1["previous"]
        assert page1["next"] and page1["next"].startswith(cluster.base_url + "/"), page1["next"]
        r = cluster.session.get(page1["next"], timeout=h.HTTP_TIMEOUT_S)
        assert r.status_code == 200, f"GET next {page1['next']} -> {r.status_code}"
        page2 = r.json()
        assert page2["count"] == 4 and len(page2["results"]) == 2, page2
        assert page2["next"] is None, page2["next"]
        assert page2["previous"] and page2["previous"].startswith(cluster.base_url + "/"), page2
        assert identity(page1["results"] + page2["results"]) == identity(bare)
        direct = cluster.get(resource, params={"page_size": 2, "page": 2})
        assert identity(direct["results"]) == identity(page2["results"])
        back = cluster.session.get(page2["previous"], timeout=h.HTTP_TIMEOUT_S).json()
        assert identity(back["results"]) == identity(page1["results"])
    whole = cluster.get("clusters/", params={"page_size": 10})
    assert whole["count"] == 1 and whole["next"] is None and len(whole["results"]) == 1


def names(cluster, resource, **params):
    return sorted(n["name"] for n in cluster.get(resource, params=params))


def test_filters_and_field_projection(cluster):
    all_cnodes = [f"cnode-{i}" for i in range(1, 5)]
    assert names(cluster, "cnodes/", name="cnode-2") == ["cnode-2"]
    assert names(cluster, "cnodes/", name="cnode") == []
    assert names(cluster, "cnodes/", name__contains="node-3") == ["cnode-3"]
    assert names(cluster, "cnodes/", name__startswith="cnode") == all_cnodes
    assert names(cluster, "cnodes/", name__startswith="node") == []
    assert names(cluster, "cnodes/", name__endswith="-4") == ["cnode-4"]
    assert names(cluster, "dnodes/", name__endswith="-4") == ["dnode-4"]
    assert names(cluster, "cnodes/", name__icontains="CNODE-1") == ["cnode-1"]
    assert names(cluster, "cnodes/", name__icontains="nOdE") == all_cnodes
    assert names(cluster, "cnodes/", enabled="true") == all_cnodes
    assert names(cluster, "cnodes/", enabled="false") == []
    ids = {n["id"]: n["name"] for n in cluster.get("cnodes/")}
    target = 3 if 3 in ids else sorted(ids)[2]
    assert names(cluster, "cnodes/", id=str(target)) == [ids[target]]
    assert names(cluster, "cnodes/", name__startswith="cnode", name__endswith="2") == ["cnode-2"]
    paged = cluster.get("cnodes/", params={"name__startswith": "cnode", "page_size": 3})
    assert paged["count"] == 4 and len(paged["results"]) == 3, paged
    cname = cluster.cluster_obj()["name"]
    assert len(cluster.get("clusters/", params={"name": cname})) == 1
    assert cluster.get("clusters/", params={"name": cname + "x"}) == []

    for params in ({"fields": "id,name"}, [("fields", "id"), ("fields", "name")]):
        projected = cluster.get("cnodes/", params=params)
        assert len(projected) == 4, projected
        for obj in projected:
            assert set(obj) == {"id", "name"}, f"fields={params}: {obj}"
    one = cluster.get("cnodes/", params={"name": "cnode-2", "fields": "name,state"})
    assert one == [{"name": "cnode-2", "state": "ACTIVE"}], one
    obj = cluster.get(f"cnodes/{target}/", params={"fields": "id,name"})
    assert obj == {"id": target, "name": ids[target]}, obj


def test_not_found_method_not_allowed_and_validation(cluster):
    for path in ("cnodes/999999/", "dnodes/999999/", "clusters/999999/", "vtasks/999999/"):
        r = cluster.request("GET", path)
        assert r.status_code == 404, f"GET {path} -> {r.status_code}"
        assert r.json() == {"detail": "Not found."}, r.text
    r = cluster.request("GET", "nosuchresource/")
    assert r.status_code == 404, f"unknown resource -> {r.status_code}"
    r = cluster.request("GET", "cnodes/", prefix="/api/v99/")
    assert r.status_code == 404, f"/api/v99/ -> {r.status_code}"

    cid = cluster.node("cnode-2")["id"]
    r = cluster.request("DELETE", f"cnodes/{cid}/")
    assert r.status_code == 405, f"DELETE cnodes/{cid}/ -> {r.status_code} {r.text}"
    r = cluster.request("PATCH", "cnodes/999999/", json={"enabled": False})
    assert r.status_code == 404, f"PATCH unknown id -> {r.status_code}"

    tasks_before = len(cluster.get("vtasks/"))
    for bad in ("maybe", 7, [True], {"x": 1}):
        r = cluster.request("PATCH", f"cnodes/{cid}/", json={"enabled": bad})
        assert r.status_code == 400, f"enabled={bad!r} -> {r.status_code} {r.text}"
        assert r.json() == {"enabled": ["Must be a valid boolean."]}, f"{bad!r}: {r.text}"
    r = cluster.request("PATCH", f"cnodes/{cid}/", json={"no_such_field": 1})
    assert r.status_code == 400, f"unknown field -> {r.status_code} {r.text}"
    body = r.json()
    assert isinstance(body.get("no_such_field"), list) and body["no_such_field"], body
    assert len(cluster.get("vtasks/")) == tasks_before, "a rejected PATCH started a task"
    for name, n in cluster.nodes().items():
        assert n["state"] == "ACTIVE" and n["enabled"] is True, n


def test_versions_and_vtasks(cluster):
    versions = cluster.get("versions/")
    assert isinstance(versions, list) and versions, versions
    for v in versions:
        assert isinstance(v.get("sys_version"), str) and v["sys_version"], v
        assert v.get("status") == "success", v

    task = cluster.patch_enabled("cnode-4", False)
    assert task["state"] in ("RUNNING", "COMPLETED"), task
    t = cluster.get(f"vtasks/{task['id']}/")
    assert t["id"] == task["id"] and t["name"] == task["name"], (t, task)
    assert t["state"] in ("RUNNING", "COMPLETED"), t
    assert isinstance(t["messages"], list), t
    assert isinstance(t["timeout_in_seconds"], (int, float)), t
    assert any(x["id"] == task["id"] for x in cluster.get("vtasks/")), "task not in vtasks/"
    assert cluster.wait_vtask(task["id"])["state"] == "COMPLETED"
    assert cluster.node("cnode-4")["state"] == "INACTIVE"
    assert cluster.wait_vtask(cluster.patch_enabled("cnode-4", True)["id"])["state"] == "COMPLETED"
    assert cluster.node("cnode-4")["state"] == "ACTIVE"
    events = cluster.get("events/")
    assert isinstance(events, list), events
    mine = [e for e in events if e.get("object_name") == "cnode-4"]
    assert any(e.get("event_type") == "STATE_CHANGE" for e in mine), mine
    for e in mine:
        assert e.get("event_message") and e.get("timestamp"), e


def still_serving(cluster, after):
    r = cluster.request("GET", "clusters/")
    assert r.status_code == 200, f"API not serving after {after}: {r.status_code}"
    assert r.json()[0]["state"] == "ONLINE"


def test_bad_input_gets_an_error_and_the_server_keeps_serving(cluster):
    rng = h.seeded_rng("garbage bodies")
    cid = cluster.node("cnode-2")["id"]
    json_header = {"Content-Type": "application/json"}
    for method, path, session in (("PATCH", f"cnodes/{cid}/", None),
                                  ("POST", "apitokens/", None),
                                  ("POST", "token/", anonymous(cluster)),
                                  ("POST", "token/refresh/", anonymous(cluster))):
        for body in (b"{not json", b'{"enabled": ', b"[1, 2, 3]", b'"text"', b"\xff\xfe\x00"):
            r = cluster.request(method, path, session=session, data=body, headers=json_header)
            assert r.status_code == 400, f"{method} {path} body {body!r} -> {r.status_code}"
        still_serving(cluster, f"malformed JSON to {path}")

    garbage = rng.randbytes(1 << 20)
    for method, path, session in (("POST", "token/", anonymous(cluster)),
                                  ("PATCH", f"cnodes/{cid}/", None)):
        try:
            r = cluster.request(method, path, session=session, data=garbage, headers=json_header)
        except requests.ConnectionError as e:
            raise AssertionError(f"1 MiB body to {path}: connection dropped without a status: {e}")
        assert 400 <= r.status_code < 500, f"1 MiB body to {path} -> {r.status_code}"
        still_serving(cluster, f"a 1 MiB body to {path}")

    # 64 KiB fits in the loopback socket buffers, so the client always gets to read the answer.
    r = cluster.request("GET", "clusters/", headers={"X-Huge": "a" * (64 << 10)})
    assert 400 <= r.status_code < 500, f"64 KiB header -> {r.status_code}"
    still_serving(cluster, "a 64 KiB header")
    # With 1 MiB, a server that answers at its header limit and closes can reset the connection
    # while the client is still sending, before the client reads: requests then reports a
    # dropped connection whatever the server sent. So: any answer must be 4xx, and the server
    # must keep serving.
    try:
        r = cluster.request("GET", "clusters/", headers={"X-Huge": "a" * (1 << 20)})
        assert 400 <= r.status_code < 500, f"1 MiB header -> {r.status_code}"
    except requests.ConnectionError as e:
        print(f"1 MiB header: connection closed before an answer was read: {e}")
    still_serving(cluster, "a 1 MiB header")
    assert cluster.node("cnode-2")["state"] == "ACTIVE"


def test_query_strings_on_a_kept_alive_connection(cluster):
    """Every request on one keep-alive connection must see its own query string; compared with
    the same request on a fresh connection each time."""
    queries = ["id=3", "name__startswith=cnode&page_size=3", "page_size=2&name__startswith=cnode",
               "name=cnode-2&fields=id,name", "enabled=true&name__endswith=4"]
    fresh = {}
    for q in queries:
        r = cluster.request("GET", f"cnodes/?{q}", session=cluster.new_session())
        assert r.status_code == 200, f"?{q} on a fresh connection -> {r.status_code} {r.text}"
        fresh[q] = r.json()
    kept = cluster.new_session()
    wrong = []
    for round_ in range(5):
        for q in queries:
            r = cluster.request("GET", f"cnodes/?{q}", session=kept)
            if r.status_code != 200 or r.json() != fresh[q]:
                wrong.append(f"round {round_} ?{q} -> {r.status_code} {r.text[:120]}")
    assert not wrong, (f"{len(wrong)} of {5 * len(queries)} requests on one connection got "
                       f"another answer than on a fresh connection:\n" + "\n".join(wrong[:10]))
