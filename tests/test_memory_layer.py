"""The one-process channel layer (todo_site/memory_layer.py): direct group sends."""

import asyncio

from channels.layers import get_channel_layer

from todo_site import memory_layer
from todo_site.memory_layer import InMemoryChannelLayer


async def members(layer, group, count):
    channels = [await layer.new_channel() for _ in range(count)]
    for channel in channels:
        await layer.group_add(group, channel)
    return channels


def test_the_embedded_default_is_this_layer():
    assert isinstance(get_channel_layer(), InMemoryChannelLayer)


async def test_a_group_send_is_queued_for_every_member_before_it_returns():
    layer = InMemoryChannelLayer()
    channels = await members(layer, "doc_a", 3)
    await layer.group_send("doc_a", {"type": "doc.updated", "n": 1})
    # No turn of the event loop in between: each queue holds it already.
    assert all(layer.channels[channel].qsize() == 1 for channel in channels)
    for channel in channels:
        assert await layer.receive(channel) == {"type": "doc.updated", "n": 1}


async def test_group_sends_arrive_in_the_order_they_were_made():
    layer = InMemoryChannelLayer()
    (channel,) = await members(layer, "doc_a", 1)
    for n in range(50):
        await layer.group_send("doc_a", {"type": "doc.updated", "n": n})
    received = [(await layer.receive(channel))["n"] for _ in range(50)]
    assert received == list(range(50))


async def test_each_member_gets_its_own_message_dict():
    layer = InMemoryChannelLayer()
    first, second = await members(layer, "doc_a", 2)
    await layer.group_send("doc_a", {"type": "doc.updated", "data": b"x"})
    got = await layer.receive(first)
    got["data"] = b"changed"
    assert (await layer.receive(second))["data"] == b"x"


async def test_a_full_member_is_skipped_and_the_others_still_get_the_message():
    layer = InMemoryChannelLayer(capacity=1)
    full, other = await members(layer, "doc_a", 2)
    await layer.send(full, {"type": "filler"})
    await layer.group_send("doc_a", {"type": "doc.updated"})
    assert (await layer.receive(other))["type"] == "doc.updated"
    assert (await layer.receive(full))["type"] == "filler"
    assert full not in layer.channels  # nothing more was queued for it


async def test_an_expired_message_is_swept_and_its_channel_leaves_groups(monkeypatch):
    monkeypatch.setattr(memory_layer, "SWEEP_SECONDS", 0.0)
    layer = InMemoryChannelLayer(expiry=0.05)
    dead, alive = await members(layer, "doc_a", 2)
    await layer.send(dead, {"type": "never.read"})
    await asyncio.sleep(0.1)
    await layer.group_send("doc_a", {"type": "doc.updated"})
    assert dead not in layer.groups["doc_a"]
    assert (await layer.receive(alive))["type"] == "doc.updated"


async def test_the_sweep_runs_at_most_once_per_sweep_interval(monkeypatch):
    layer = InMemoryChannelLayer(expiry=0.05)
    dead, _ = await members(layer, "doc_a", 2)
    await layer.group_send("doc_a", {"type": "first"})  # sweeps, starts the interval
    await asyncio.sleep(0.1)  # both messages have expired
    await layer.group_send("doc_a", {"type": "second"})
    assert dead in layer.groups["doc_a"]  # not swept again within the second
    monkeypatch.setattr(memory_layer, "SWEEP_SECONDS", 0.0)
    await layer.group_send("doc_a", {"type": "third"})
    assert dead not in layer.groups["doc_a"]
