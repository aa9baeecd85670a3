"""Typed keys under which the application keeps its services."""

from __future__ import annotations

from aiohttp import web

from node.services import Node
from storage.worker import JobRunner

NODE = web.AppKey("node", Node)
RUNNER = web.AppKey("runner", JobRunner)
