"""``callbridge phone ...`` drives the virtual phones of a running carrier through its HTTPS API (``/carrier/api``);
``callbridge carrier`` runs the carrier alone, with its page and API on an HTTPS port of its own."""

from __future__ import annotations

import json
import logging
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click
import httpx

from callbridge.config import Settings


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@dataclass
class CarrierApi:
    base_url: str
    ca_file: str | None

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        verify: ssl.SSLContext | bool = (ssl.create_default_context(cafile=self.ca_file) if self.ca_file
                                         else ssl.create_default_context())
        url = f"{self.base_url}/carrier/api{path}"
        try:
            with httpx.Client(verify=verify, timeout=30) as client:
                response = client.request(method, url, json=body if method == "POST" else None)
        except httpx.HTTPError as exc:
            fail(f"cannot reach the carrier at {self.base_url}: {exc}")
        if response.status_code >= 400:
            try:
                fail(str(response.json()["error"]["message"]))
            except (ValueError, KeyError, TypeError):
                fail(f"{response.status_code} from {url}" + (
                    " (is the carrier enabled there?)" if response.status_code == 404 else ""))
        return response

    def act(self, number: str, action: str, body: dict[str, Any] | None = None) -> None:
        response = self.request("POST", f"/phones/{_number(number)}/{action}", body or {})
        click.echo(line(response.json()))


def _number(number: str) -> str:
    number = number.replace(" ", "")
    return number if number.startswith("+") else f"+{number}"


def line(phone: dict[str, Any]) -> str:
    """One phone in one line: number, state, answer mode, name, then its current or last call."""
    state = f"{phone['state']}, holding" if phone.get("held") else phone["state"]
    text = f"{phone['number']:<15} {state:<10} {phone['answerMode']:<8} {phone['name']}"
    call = phone.get("call")
    if call:
        who = f"{call['peer']} ({call['peerName']})" if call.get("peerName") else call["peer"]
        where = f"from {who}" if call["direction"] == "in" else f"to {who}"
        text += f"  | last call {where}: {call['outcome']}" if call.get("outcome") else f"  | call {where}"
    if phone.get("digits"):
        text += f"  | digits {phone['digits']}"
    return text


def _defaults(base_url: str | None, ca_file: str | None) -> CarrierApi:
    """The base URL and CA from var/demo.json (CALLBRIDGE_DATA_DIR) unless given."""
    settings = Settings()
    demo_json = settings.data_dir / "demo.json"
    info: dict[str, Any] = {}
    if demo_json.is_file():
        try:
            info = json.loads(demo_json.read_text())
        except (OSError, ValueError):
            info = {}
    base_url = base_url or info.get("base_url")
    if not base_url:
        fail(f"no --base-url and no {demo_json} (run `callbridge demo` first, or give --base-url and --ca-file)")
    if ca_file is None:
        ca_file = info.get("ca_file")
        local = settings.tls_dir / "ca.crt"
        if ca_file is None and local.is_file():
            ca_file = str(local)
    return CarrierApi(base_url.rstrip("/"), ca_file)


CONNECTION = {"base_url": "the server running the carrier (default: var/demo.json's)",
              "ca_file": "CA certificate to trust (default: var/demo.json's)"}


def _remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Where to reach the carrier, given before the subcommand or after it: the later one wins (the subcommand's
    options are read after the group's), then the environment, then var/demo.json."""
    if value is not None and param.name is not None:
        ctx.meta[f"phone.{param.name}"] = value


def _connection_options(envvars: bool) -> list[click.Parameter]:
    return [click.Option([f"--{name.replace('_', '-')}"], default=None, expose_value=False, callback=_remember,
                         help=help_text, envvar=f"CALLBRIDGE_PHONE_{name.upper()}" if envvars else None,
                         show_envvar=envvars)
            for name, help_text in CONNECTION.items()]


@click.group(params=_connection_options(envvars=True))
def phone() -> None:
    """Drive the built-in carrier's virtual phones (a demo and test tool). --base-url and --ca-file go before or
    after the subcommand, or in CALLBRIDGE_PHONE_BASE_URL and CALLBRIDGE_PHONE_CA_FILE."""


def _api(ctx: click.Context) -> CarrierApi:
    return _defaults(ctx.meta.get("phone.base_url"), ctx.meta.get("phone.ca_file"))


@phone.command("list")
@click.pass_context
def list_phones(ctx: click.Context) -> None:
    """One line per phone: number, state, answer mode, name, call."""
    for item in _api(ctx).request("GET", "/phones").json()["phones"]:
        click.echo(line(item))


@phone.command()
@click.argument("number")
@click.argument("to")
@click.pass_context
def dial(ctx: click.Context, number: str, to: str) -> None:
    """NUMBER (a virtual phone) calls TO (e.g. a Teams Phone user's number)."""
    _api(ctx).act(number, "dial", {"to": to.replace(" ", "")})


@phone.command()
@click.argument("number")
@click.option("--status", type=int, default=603, show_default=True, help="SIP status: 486 busy, 603 decline, ...")
@click.pass_context
def decline(ctx: click.Context, number: str, status: int) -> None:
    """Decline the call ringing at NUMBER."""
    _api(ctx).act(number, "decline", {"status": status})


def _number_only(action: str, help_text: str) -> None:
    """``callbridge phone ACTION NUMBER``: the actions that take nothing but the phone."""

    @phone.command(action, help=help_text)
    @click.argument("number")
    @click.pass_context
    def command(ctx: click.Context, number: str) -> None:
        _api(ctx).act(number, action)


for _action, _help in (("answer", "Answer the call ringing at NUMBER."),
                       ("hangup", "End NUMBER's call (or stop its dialling)."),
                       ("hold", "Put NUMBER's call on hold (a sendonly re-INVITE: the other side hears music)."),
                       ("resume", "Take NUMBER's call off hold.")):
    _number_only(_action, _help)


@phone.command()
@click.argument("number")
@click.argument("what")
@click.pass_context
def play(ctx: click.Context, number: str, what: str) -> None:
    """What NUMBER sends: tone:<Hz>, silence, echo or wav:<name> (a 16-bit mono WAV file of the carrier's audio
    directory, CALLBRIDGE_CARRIER_WAV_DIR: default var/wav)."""
    _api(ctx).act(number, "play", {"what": what})


@phone.command()
@click.argument("number")
@click.argument("mode")
@click.pass_context
def mode(ctx: click.Context, number: str, mode: str) -> None:
    """How NUMBER answers calls: manual, auto, busy (486), decline (603), unavailable (480) or no-answer (rings,
    then 408)."""
    _api(ctx).act(number, "mode", {"mode": mode})


@phone.command()
@click.argument("number")
@click.argument("state", type=click.Choice(["on", "off"]))
@click.pass_context
def ringback(ctx: click.Context, number: str, state: str) -> None:
    """Calls to NUMBER hear the network's ringback as early media (a 183 with SDP) until it answers: on or off."""
    _api(ctx).act(number, "ringback", {"on": state == "on"})


@phone.command()
@click.argument("number")
@click.argument("digits")
@click.pass_context
def dtmf(ctx: click.Context, number: str, digits: str) -> None:
    """Send DIGITS (0-9, *, #, A-D) as DTMF from NUMBER in a call."""
    _api(ctx).act(number, "dtmf", {"digits": digits})


@phone.command()
@click.argument("number")
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True,
              help="WAV file to write")
@click.pass_context
def record(ctx: click.Context, number: str, out: Path) -> None:
    """Download what NUMBER heard in its last call (8 kHz 16-bit mono WAV)."""
    response = _api(ctx).request("GET", f"/phones/{_number(number)}/recording.wav")
    out.write_bytes(response.content)
    seconds = max(0, len(response.content) - 44) / 16_000
    click.echo(f"{out} ({seconds:.1f} s)")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address of its SIP and HTTPS ports")
@click.option("--sip-port", type=int, default=None, help="its SIP port, UDP (default CALLBRIDGE_CARRIER_PORT)")
@click.option("--trunk", default=None,
              help="host:port of callbridge's SIP side, where its phones' calls go (default CALLBRIDGE_SIP_HOST "
                   "and CALLBRIDGE_SIP_PORT)")
@click.option("--phones", "phones_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="JSON: a list of {number, name, answerMode?} (default: var/demo.json's, else the demo customers)")
@click.option("--port", type=int, default=8444, show_default=True, help="HTTPS port of its page and API")
def carrier(host: str, sip_port: int | None, trunk: str | None, phones_file: Path | None, port: int) -> None:
    """Run the built-in carrier alone: virtual phones on their own SIP port, a page and API over HTTPS."""
    import uvicorn

    from callbridge.carrier.guard import Guards, is_loopback
    from callbridge.carrier.routes import demo_phones, phone_specs, standalone_app
    from callbridge.logs import configure
    from callbridge.sip.transport import Address
    from callbridge.tls import tls_files

    settings = Settings()
    if not is_loopback(host) and not settings.carrier_allow_remote:
        fail(f"--host {host} is not a loopback address, and the carrier has no sign-in: whoever reaches it drives "
             "its phones (CALLBRIDGE_CARRIER_ALLOW_REMOTE=true serves it anyway)")
    trunk_host, trunk_port = settings.sip_host, settings.sip_port
    if trunk:
        trunk_host, _, given_port = trunk.rpartition(":")
        if not trunk_host or not given_port.isdigit():
            fail(f"--trunk is host:port, not {trunk!r}")
        trunk_port = int(given_port)
    if phones_file is not None:
        try:
            specs = phone_specs(json.loads(phones_file.read_text()))
        except ValueError as exc:
            fail(f"{phones_file}: {exc}")
    else:
        specs = demo_phones(settings.data_dir / "demo.json")
    configure(settings.log_level, settings.log_format)
    if not is_loopback(host):
        logging.getLogger("callbridge.carrier").warning(
            "the carrier, which has no sign-in, is served on a network address: whoever reaches it drives its phones",
            extra={"host": host})
    tls = tls_files(settings)
    app = standalone_app(Address(trunk_host.strip("[]"), trunk_port, "UDP"), specs,
                         Guards.of(settings, f"https://localhost:{port}"), host=host,
                         sip_port=sip_port or settings.carrier_port)
    click.echo(f"carrier: {len(specs)} phones on SIP udp:{host}:{sip_port or settings.carrier_port}, calling "
               f"{trunk_host}:{trunk_port}; page https://localhost:{port}/carrier"
               + (f" (CA {tls.ca_file})" if tls.ca_file else ""))
    uvicorn.run(app, host=host, port=port, ssl_certfile=str(tls.cert_file), ssl_keyfile=str(tls.key_file),
                log_config=None, access_log=False, timeout_graceful_shutdown=2)


for _command in phone.commands.values():  # every subcommand takes the connection options too
    _command.params.extend(_connection_options(envvars=False))
