"""Presence against live Daphne: sockets on one process, on two processes sharing
PostgreSQL and Redis, and the peers of a process killed outright."""

import json
import secrets
import time

import pytest

from tests.conftest import run_node
from tests.helpers.presence import announce, join, wait_for_others
from tests.live import ROOT

pytestmark = pytest.mark.live

# Short, so a vanished peer's expiry is quick to see; the default is 30 s.
SHORT_TIMEOUT = 3.0
CLOSE_WITHIN = 5.0
CLIENTS = ROOT / "tests" / "node" / "presence_clients.mjs"


def new_doc_id():
    return secrets.token_urlsafe(18)


@pytest.fixture
def pair(postgres_database, redis_url, live_server_factory):
    """Two Daphne processes on one PostgreSQL database and Redis, short timeout."""
    return [
        live_server_factory(
            database_url=postgres_database,
            redis_url=redis_url,
            TODOS_PRESENCE_TIMEOUT=SHORT_TIMEOUT,
        )
        for _ in range(2)
    ]


def test_two_sockets_on_one_process_see_each_other_come_and_go(daphne_server):
    doc_id = new_doc_id()
    alice = join(daphne_server, doc_id)
    wait_for_others(alice, 0)
    bob = join(daphne_server, doc_id)

    assert len(wait_for_others(alice, 1)) == 1
    assert len(wait_for_others(bob, 1)) == 1
    bob.close()
    started = time.monotonic()
    wait_for_others(alice, 0, timeout=CLOSE_WITHIN)

    assert time.monotonic() - started < CLOSE_WITHIN
    alice.close()


def test_two_processes_with_redis_share_presence_and_editing(pair):
    doc_id = new_doc_id()
    alice = join(pair[0], doc_id)
    wait_for_others(alice, 0)
    bob = join(pair[1], doc_id)

    wait_for_others(alice, 1)
    wait_for_others(bob, 1)
    announce(bob, editing="2@abc")
    [seen] = wait_for_others(alice, 1)
    while seen["editing"] is None:
        [seen] = wait_for_others(alice, 1)
    assert seen["editing"] == "2@abc"
    bob.close()
    wait_for_others(alice, 0, timeout=CLOSE_WITHIN)
    alice.close()


def test_the_peers_of_a_killed_process_vanish_within_the_timeout(pair):
    doc_id = new_doc_id()
    alice = join(pair[0], doc_id)
    bob = join(pair[1], doc_id)
    wait_for_others(alice, 1)

    pair[1].kill()
    started = time.monotonic()
    wait_for_others(alice, 0, timeout=SHORT_TIMEOUT + 2)

    # Two heartbeats' silence, checked every sixth: at most 5/6 of the timeout.
    assert time.monotonic() - started <= SHORT_TIMEOUT
    alice.close()
    bob.close()


def test_a_client_that_vanishes_without_closing_its_socket_disappears(pair):
    doc_id = new_doc_id()
    alice = join(pair[0], doc_id)
    bob = join(pair[1], doc_id)  # and then never speaks again
    wait_for_others(alice, 1)
    started = time.monotonic()

    wait_for_others(alice, 0, timeout=SHORT_TIMEOUT + 2)

    assert time.monotonic() - started <= SHORT_TIMEOUT
    alice.close()
    bob.close()


def test_sixty_tabs_joining_at_once_on_two_processes_all_see_each_other(pair):
    """Every socket answers a join; answered one message each, the 60 joins
    filled each process's Redis queue (1,000 messages) and closed sockets."""
    sockets = 60
    result = run_node(
        CLIENTS,
        "--urls",
        ",".join(server.ws_url for server in pair),
        "--doc",
        new_doc_id(),
        "--sockets",
        sockets,
        "--seconds",
        1,
        timeout=120,
    )
    report = json.loads(result.stdout)

    assert report["sawEveryone"] == sockets, report
