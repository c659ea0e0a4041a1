"""Errors of the directory, each with a one-line message fit for a CLI or an API error body."""


class DirectoryError(Exception):
    """Base: bad input or a state that forbids the change. Nothing was changed."""


class NotFound(DirectoryError):
    pass


class Conflict(DirectoryError):
    pass


class Invalid(DirectoryError):
    pass
