"""Fixtures: every test gets its own clusters in its own temp data dirs, stopped at teardown
(gracefully; forced, and reported, if that fails). A failed test prints the tails of the
cluster's logs."""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import dase_harness as h  # noqa: E402


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


def pytest_sessionstart(session):
    if not Path(h.DASE_BIN).is_file():
        raise pytest.UsageError(f"no dase binary at DASE_BIN={h.DASE_BIN}: build it first")
    print(f"\ndase binary: {h.DASE_BIN}", flush=True)


@pytest.fixture
def make_cluster(tmp_path, request):
    """make_cluster(name="c", up=True, config=True, restart=None, **toml_keys) -> Cluster.

    Writes DIR/dase.toml (free ports, the fast restart policy updated by `restart`) unless
    config=False, and starts the cluster unless up=False."""
    made = []

    def make(name="c", up=True, config=True, restart=None, **keys):
        data_dir = tmp_path / name
        data_dir.mkdir()
        if config:
            h.write_config(data_dir, restart=dict(h.FAST_RESTART, **(restart or {})),
                           name=name, **keys)
        cluster = h.Cluster(data_dir)
        made.append(cluster)
        if up:
            cluster.up()
        return cluster

    yield make

    call = getattr(request.node, "rep_call", None)
    if call is None or call.failed:
        for cluster in made:
            if (cluster.data_dir / "logs").is_dir():
                print(cluster.log_tails(60))
    problems = []
    for cluster in made:
        problems += [f"{cluster.data_dir}: {p}" for p in h.teardown_cluster(cluster)]
    if problems:
        pytest.fail("stopping the cluster went wrong:\n" + "\n".join(problems))


@pytest.fixture
def cluster(make_cluster):
    """A running default-shape cluster (4 CNodes, 4 DNodes) with the fast restart policy."""
    return make_cluster()
