"""Which of a tenant's trunks carry a phone number, in the order a call tries them: the phone policy's decision
(``calling.policy``), on any rows that have a name, an enabled flag and number prefixes (``store.models.Trunk``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar


class Routable(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def number_prefixes(self) -> list[str]: ...


R = TypeVar("R", bound=Routable)


def routes(trunks: Iterable[R], number: str) -> list[R]:
    """The enabled trunks carrying ``number`` (E.164), in the order a call tries them (failover): the longest
    matching prefix first, ties by name."""
    ranked = []
    for trunk in trunks:
        longest = max((len(p) for p in trunk.number_prefixes if number.startswith(p)), default=0)
        if trunk.enabled and longest:
            ranked.append((-longest, trunk.name, trunk))
    return [trunk for *_, trunk in sorted(ranked, key=lambda r: r[:2])]
