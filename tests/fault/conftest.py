"""The fault tests use the integration tests' fixtures (clusters in temp dirs, stopped at
teardown, with sanitizer reports failing the test)."""
import importlib.util
import os
import sys

_here = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(_here, "..", "integration"))
_spec = importlib.util.spec_from_file_location(
    "integration_conftest", os.path.join(_here, "..", "integration", "conftest.py"))
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)

pytest_runtest_makereport = _shared.pytest_runtest_makereport
pytest_sessionstart = _shared.pytest_sessionstart
make_cluster = _shared.make_cluster
cluster = _shared.cluster
