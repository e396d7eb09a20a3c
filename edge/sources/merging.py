"""Several live sources (a camera, a microphone) as one edge `Source`.

Each source is read by its own task into one bounded queue, so a slow camera
never holds up the audio. The merged stream ends when every source has ended;
a source that fails is logged and the others go on (a camera unplugged
mid-session must not stop the wearer being heard).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator

from edge.sources.media import MediaItem

log = logging.getLogger(__name__)


class _Ended:
    """One source has no more items."""


async def merge_sources(
    *sources: AsyncIterable[MediaItem], queue_items: int = 256
) -> AsyncIterator[MediaItem]:
    """Items from all `sources` in arrival order."""
    items: asyncio.Queue[MediaItem | _Ended] = asyncio.Queue(queue_items)

    async def pump(source: AsyncIterable[MediaItem]) -> None:
        try:
            async for item in source:
                await items.put(item)
        except Exception as exc:
            log.warning("a media source failed and was dropped: %s", exc)
        await items.put(_Ended())

    tasks = [asyncio.create_task(pump(source)) for source in sources]
    running = len(tasks)
    try:
        while running:
            item = await items.get()
            if isinstance(item, _Ended):
                running -= 1
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
