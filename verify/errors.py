"""One exception base for everything the library raises on purpose.

Raise only when a message cannot be examined at all (a check that could not run is
reported, not raised). ``str(err)`` is the one line the CLI prints: the file, then
what is wrong with it.
"""

from __future__ import annotations


class ProvenanceError(Exception):
    """Base class: catch this to handle every deliberate failure of the library."""


class InputError(ProvenanceError):
    """The input is not something we can examine (not an email, unreadable, too large)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class UsageError(ProvenanceError):
    """The caller asked for something impossible (bad option value, unreadable key file)."""
