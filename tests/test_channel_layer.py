"""The Redis channel layer outlives Redis's socket timeout and a Redis restart
(todo_site/channel_layer.py), against a private redis-server of its own."""

import asyncio
import time

import pytest

from tests.deploy.test_deployment import Redis, require_program
from todo_site.channel_layer import RECONNECTED, RedisChannelLayer, redis_hosts

pytestmark = pytest.mark.redis


@pytest.fixture
def redis(tmp_path):
    server = Redis(require_program("redis-server", "redis-server"), tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def layer(redis):
    layer = RedisChannelLayer(hosts=redis_hosts(f"redis://127.0.0.1:{redis.port}/0"))
    yield layer
    if layer._watcher is not None:
        layer._watcher.cancel()
    await layer.close_pools()


async def test_an_idle_receive_outlasts_the_socket_timeout(layer):
    """redis-py 8 times reads out after 5 s; the blocking receive waits 5 s too."""
    channel = await layer.new_channel()
    receiving = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(12)  # two BZPOPMIN rounds, past redis-py's default 5 s
    assert not receiving.done()
    await layer.send(channel, {"type": "late"})
    assert (await asyncio.wait_for(receiving, 5))["type"] == "late"


async def test_groups_come_back_after_a_redis_restart(layer, redis):
    channel = await layer.new_channel()
    await layer.group_add("doc_a", channel)
    receiving = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(1.5)  # the watcher has seen Redis's run_id

    redis.stop()
    await asyncio.sleep(1)
    redis.start()
    back = time.monotonic()

    message = await asyncio.wait_for(receiving, 10)
    assert message == {"type": RECONNECTED}
    assert time.monotonic() - back < 5
    await layer.group_send("doc_a", {"type": "doc.updated"})
    pushed = await asyncio.wait_for(layer.receive(channel), 5)
    assert pushed == {"type": "doc.updated"}
