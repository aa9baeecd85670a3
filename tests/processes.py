"""Running ``bocage`` commands as real processes, as an operator would."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp

BOCAGE = str(Path(sys.executable).with_name("bocage"))


def run_cli(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``bocage ARGS`` to completion and capture what it printed."""
    return subprocess.run(
        [BOCAGE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


async def spawn(
    *args: str, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    """Start ``bocage ARGS`` in the background, its output in a pipe."""
    return await asyncio.create_subprocess_exec(
        BOCAGE,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )


async def wait_http(url: str, within: float = 30.0) -> None:
    """Wait until ``url`` answers 200, or fail saying what it was waiting for."""
    deadline = asyncio.get_running_loop().time() + within
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{url} did not answer 200 within {within}s")
            await asyncio.sleep(0.1)


async def stop(process: asyncio.subprocess.Process, within: float = 20.0) -> str:
    """SIGTERM a process, wait for it, and return what it printed."""
    if process.returncode is None:
        process.terminate()
    try:
        out, _ = await asyncio.wait_for(process.communicate(), within)
    except TimeoutError:
        process.kill()
        out, _ = await process.communicate()
    return out.decode(errors="replace") if out else ""
