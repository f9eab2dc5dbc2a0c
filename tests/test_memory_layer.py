"""The in-memory channel layer still expires messages and memberships, once a second."""

import asyncio
import types

import pytest

from todo_site import memory_layer
from todo_site.memory_layer import InMemoryChannelLayer


@pytest.fixture
def clock(monkeypatch):
    """Both clocks the layer reads (expiry and sweep), moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(memory_layer, "monotonic", lambda: now[0])
    monkeypatch.setattr(
        "channels.layers.time", types.SimpleNamespace(time=lambda: now[0])
    )
    return now


async def test_a_group_send_reaches_every_member():
    layer = InMemoryChannelLayer()
    await layer.group_add("doc", "a!1")
    await layer.group_add("doc", "b!2")

    await layer.group_send("doc", {"type": "doc.updated", "n": 1})

    assert await layer.receive("a!1") == {"type": "doc.updated", "n": 1}
    assert await layer.receive("b!2") == {"type": "doc.updated", "n": 1}


async def test_an_expired_message_is_dropped_and_its_channel_leaves_its_groups(clock):
    layer = InMemoryChannelLayer(expiry=60)
    await layer.group_add("doc", "gone!1")
    await layer.send("gone!1", {"type": "old"})
    clock[0] += 61

    await layer.group_send("doc", {"type": "new"})  # sweeps: the first in 61 s

    assert "gone!1" not in layer.groups.get("doc", {})
    assert "gone!1" not in layer.channels


async def test_the_sweep_runs_at_most_once_a_second(clock):
    layer = InMemoryChannelLayer(expiry=60)
    await layer.send("idle!1", {"type": "old"})  # expires at 60 s
    clock[0] += 59.9
    await layer.group_send("other", {"type": "x"})  # sweeps, nothing expired yet
    clock[0] += 0.5

    await layer.group_send("other", {"type": "x"})  # expired, but no sweep yet
    assert "idle!1" in layer.channels

    clock[0] += 0.6
    await layer.group_send("other", {"type": "x"})
    assert "idle!1" not in layer.channels


async def test_an_old_membership_expires(clock):
    layer = InMemoryChannelLayer(group_expiry=100)
    await layer.group_add("doc", "a!1")
    clock[0] += 101

    await layer.group_send("doc", {"type": "x"})

    assert "a!1" not in layer.groups.get("doc", {})
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive("a!1"), 0.05)
