"""pytest fixtures around tests.dnsserver (a real Knot DNS server).

Register in tests/conftest.py with either

    pytest_plugins = ["tests._dns_fixtures"]

(works because tests/ is in testpaths, so tests/conftest.py is a root
conftest) or

    from tests._dns_fixtures import knot_server, silent_dns_port  # noqa: F401

Fixtures
--------
knot_server (session scope)
    Factory: ``srv = knot_server(zones, records_file=None, shared=True)``
    returns a *started* :class:`tests.dnsserver.KnotServer`.  With
    ``shared=True`` (default) an identical zone set requested again anywhere in
    the session gets the same running server back, so do not stop it and do not
    rely on being its only user; ``shared=False`` always starts a new one.  All
    servers are stopped at the end of the session.

silent_dns_port (function scope)
    ``(address, port)`` where UDP and TCP queries are never answered.

Missing tools: if knotd (or ldns-signzone for bogus zones) is not installed
the tests using ``knot_server`` are SKIPPED, unless the environment variable
CI is set (non-empty and not "0"/"false"), in which case they FAIL.
"""

from __future__ import annotations

import os

import pytest

from tests.dnsserver import KnotServer, ToolMissing, _normalise, silent_port

__all__ = ["knot_server", "silent_dns_port", "in_ci"]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} -- required in CI (CI is set)", pytrace=False)
    pytest.skip(reason)


def _key(zones, records_file) -> tuple:
    builds = _normalise(zones, records_file)
    return tuple(
        (str(n), b.spec.mode, b.spec.bogus_mode, b.spec.algorithm.lower(), b.spec.nsec3, b.master_text()) for n, b in sorted(builds.items())
    )


@pytest.fixture(scope="session")
def knot_server():
    servers: list[KnotServer] = []
    shared: dict[tuple, KnotServer] = {}

    def _start(zones, records_file, is_shared, kw):
        key = _key(zones, records_file) + tuple(sorted(kw.items())) if is_shared else None
        if key is not None and key in shared and shared[key].running:
            return shared[key]
        srv = KnotServer(zones, records_file=records_file, **kw)
        try:
            srv.start()
        except ToolMissing as e:
            _missing(str(e))
        servers.append(srv)
        if key is not None:
            shared[key] = srv
        return srv

    def knot_server_factory(zones=None, *, records_file=None, shared: bool = True, **kw):
        return _start(zones, records_file, shared, kw)

    yield knot_server_factory
    for srv in servers:
        srv.stop()


@pytest.fixture
def silent_dns_port():
    with silent_port() as port:
        yield ("127.0.0.1", port)
