"""Errors of the media layer: one base class the call layer catches, a subclass per kind of failure."""

from __future__ import annotations


class MediaError(Exception):
    """Media could not be set up, changed or torn down."""


class EngineUnavailable(MediaError):
    """The media engine did not answer (not running, not installed, timed out)."""


class EngineRejected(MediaError):
    """The media engine answered with an error."""


class UnknownSession(MediaError):
    """No media session by that id."""


class BadSdp(MediaError):
    """A session description the media layer cannot use."""
