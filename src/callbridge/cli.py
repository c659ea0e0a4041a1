"""``callbridge``: serve, demo, ``admin`` for the directory, ``phone`` and ``carrier`` for the built-in carrier."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click

from callbridge.admin_cli import admin
from callbridge.carrier.cli import carrier, phone
from callbridge.config import Settings


@click.group()
@click.version_option(package_name="callbridge")
def main() -> None:
    """callbridge: self-hosted calling with organisation identities."""


@main.command()
@click.option("--host", default=None, help="address to listen on (default from CALLBRIDGE_HOST)")
@click.option("--port", type=int, default=None, help="HTTPS port (default from CALLBRIDGE_HTTPS_PORT)")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="worker processes (CALLBRIDGE_WORKERS)")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Run the platform (HTTPS)."""
    from callbridge.server import serve as run_server

    given = {"host": host, "https_port": port, "workers": workers}
    overrides: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    run_server(Settings(**overrides))


DEMO_DEFAULTS = {  # what the demo turns on unless the environment or callbridge.toml says otherwise
    "carrier_enabled": True, "api_docs_enabled": True, "metrics_enabled": True,
    "metrics_port": 0,  # /metrics on the HTTPS port, beside the rest
}


@main.command()
@click.option("--seed-only", is_flag=True, help="seed and write var/demo.json, then exit")
def demo(seed_only: bool) -> None:
    """Seed the demo data if the database is empty, print the sign-ins, and run the platform with the built-in
    carrier (its virtual phones at /carrier; CALLBRIDGE_CARRIER_ENABLED=false leaves it off)."""
    from callbridge.carrier.guard import is_loopback
    from callbridge.demo import seed_and_describe
    from callbridge.server import serve as run_server

    settings = Settings()
    unset = {name: value for name, value in DEMO_DEFAULTS.items() if name not in settings.model_fields_set}
    settings = settings.model_copy(update=unset)
    summary = asyncio.run(seed_and_describe(settings))
    if "join_page_client_id" not in settings.model_fields_set:  # the join page signs in with the demo's client
        app = json.loads((settings.data_dir / "demo.json").read_text())["app"]
        settings = settings.model_copy(update={"join_page_client_id": app["client_id"]})
    click.echo(summary)
    if settings.carrier_enabled and (is_loopback(settings.host) or settings.carrier_allow_remote):
        click.echo(f"  carrier page     {settings.public_base_url}/carrier   (callbridge phone --help)")
    elif settings.carrier_enabled:
        click.echo(f"  carrier          off: CALLBRIDGE_HOST={settings.host} is not loopback "
                   "(CALLBRIDGE_CARRIER_ALLOW_REMOTE=true serves it anyway)")
    portal = _portal(settings) if settings.demo_portal_url and not seed_only else None
    if not seed_only:
        try:
            run_server(settings)
        finally:
            if portal is not None:
                portal.stop()


def _portal(settings: Settings) -> Any:
    """The vendor's portal, started beside the platform; its address and who signs in to it, printed."""
    from callbridge.demo_portal import PortalProcess
    from callbridge.tls import tls_files

    info = json.loads((settings.data_dir / "demo.json").read_text())
    portal = PortalProcess(settings, info, tls_files(settings))
    portal.start()
    url = portal.env["PORTAL_REDIRECT_BASE"]
    click.echo(f"  portal           {url}/   (Contoso Calling: sign in as a Fabrikam or Northwind user above; "
               f"onboarding link {url}/onboard)")
    return portal


main.add_command(admin)
main.add_command(phone)
main.add_command(carrier)
