"""Daphne's WebSocket limits against the document limit: the start-up warning."""

import logging

from daphne.server import Server

from todo_site import websocket_limits

MIB = 1024 * 1024


def start(caplog, **limits):
    websocket_limits.install_in_daphne()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="todo_site.websocket_limits"):
        Server(application=None, endpoints=["tcp:port=0"], **limits)
    return [record.getMessage() for record in caplog.records]


def test_daphnes_defaults_get_a_warning_for_each_flag(caplog, settings):
    settings.TODOS_MAX_DOCUMENT_BYTES = 16 * MIB

    warnings = start(caplog)

    assert len(warnings) == 2
    assert (
        "--websocket-max-message-size 1048576, below TODOS_MAX_DOCUMENT_BYTES"
        in (warnings[0])
    )
    assert "--websocket-max-frame-size 1048576" in warnings[1]
    assert "cannot open or sync over its WebSocket" in warnings[1]


def test_flags_at_or_above_the_document_limit_get_none(caplog, settings):
    settings.TODOS_MAX_DOCUMENT_BYTES = 16 * MIB

    assert (
        start(
            caplog,
            websocket_max_message_size=16 * MIB,
            websocket_max_frame_size=32 * MIB,
        )
        == []
    )


def test_no_limit_at_all_is_a_warning_too(caplog, settings):
    settings.TODOS_MAX_DOCUMENT_BYTES = 16 * MIB

    warnings = start(
        caplog, websocket_max_message_size=0, websocket_max_frame_size=32 * MIB
    )

    assert len(warnings) == 1 and "0 (no limit)" in warnings[0]


def test_installing_twice_warns_once(caplog, settings):
    settings.TODOS_MAX_DOCUMENT_BYTES = 16 * MIB
    websocket_limits.install_in_daphne()

    assert len(start(caplog)) == 2
