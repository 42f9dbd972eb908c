"""Fixtures for the assistant's tests: anyio on asyncio, the platform in-process, a shopper."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.assistant.shopper import Platform, Shopper, platform


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def stack(database_url: str, anyio_backend: str) -> AsyncIterator[Platform]:
    async with platform(database_url) as running:
        yield running


@pytest.fixture
async def shopper(stack: Platform) -> Shopper:
    return await stack.shopper().start()
