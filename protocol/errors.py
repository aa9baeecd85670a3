"""The root of Bocage's exception tree.

Every error the project raises on purpose derives from :class:`BocageError`, so a
caller at an edge (the CLI, an HTTP handler, a worker) can tell "we refused this,
and here is why" from a bug.  The tree::

    BocageError
    ├── ProtocolError            malformed or unverifiable protocol input (protocol/)
    │   └── …                    one subclass per concern, defined next to its parser
    ├── ConfigError              a bad setting; names the key (node/config.py)
    ├── StorageError             the database refused or is unreachable (storage/)
    └── FederationError          a peer misbehaved or cannot be reached (federation/)

This module lives in ``protocol/`` because that package is the bottom layer that
every other package may import; it imports nothing itself.
"""

from __future__ import annotations


class BocageError(Exception):
    """Base of every error Bocage raises deliberately."""


class ProtocolError(BocageError):
    """Input that does not follow the protocol (a header, a document, a proof)."""
