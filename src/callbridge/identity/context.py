"""What the identity provider's flows share: the store, the clock, the minter, the throttle and the trusted
proxies."""

from __future__ import annotations

from dataclasses import dataclass

from callbridge.clock import Clock
from callbridge.config import Settings
from callbridge.identity.client_address import Network
from callbridge.identity.keys import KeyRing
from callbridge.identity.minting import TokenMinter
from callbridge.identity.throttle import SignInThrottle
from callbridge.store.db import Database


@dataclass
class IdentityContext:
    settings: Settings
    db: Database
    clock: Clock
    ring: KeyRing
    minter: TokenMinter
    throttle: SignInThrottle
    trusted_proxies: tuple[Network, ...] = ()

    @property
    def base_url(self) -> str:
        return self.settings.public_base_url
