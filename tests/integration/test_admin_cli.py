"""``callbridge admin`` as an administrator uses it: output on stdout, one ``error:`` line on stderr when a
change is refused, and a refused change leaves the directory exactly as it was."""

from __future__ import annotations

import asyncio
import inspect
import re
import shutil
import sqlite3
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from callbridge.cli import main
from callbridge.directory import apps
from callbridge.directory.values import COMMUNICATION_APP_ID, GRAPH_APP_ID
from callbridge.store.db import Database

BASE_URL = "https://calls.fabrikam.example"
TEAMS_CALLS = "https://auth.msft.communication.azure.com/Teams.ManageCalls"
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _runner() -> CliRunner:
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:  # click < 8.2 mixes them by default
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    return CliRunner()  # click >= 8.2: result.stderr is always separate


@dataclass
class Cli:
    """``callbridge admin ...`` against the SQLite store in ``data_dir``; ``{name}`` in an argument is
    replaced by ``ids[name]`` (ids of what the seeded directory holds)."""

    data_dir: Path
    ids: dict[str, str] = field(default_factory=dict)

    def __call__(self, *args: str) -> Result:
        env = {"CALLBRIDGE_DATA_DIR": str(self.data_dir), "CALLBRIDGE_DATABASE_URL": None,
               "CALLBRIDGE_BASE_URL": BASE_URL, "CALLBRIDGE_CONFIG": str(self.data_dir / "absent.toml")}
        return _runner().invoke(main, ["admin", *(a.format(**self.ids) for a in args)], env=env)

    def ok(self, *args: str) -> list[str]:
        result = self(*args)
        trace = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info else ""
        assert (result.exit_code, result.stderr) == (0, ""), f"{result.stdout}{result.stderr}{trace}"
        return result.stdout.splitlines()

    def rows(self, *args: str) -> list[list[str]]:
        return [line.split("\t") for line in self.ok(*args)]

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'callbridge.db'}"

    def snapshot(self) -> tuple[list[str], list[str]]:
        """What the list commands show, and every row of every table."""
        shown = [line for args in (("tenant", "list"), ("user", "list", "fabrikam.example"),
                                   ("user", "list", "contoso.example"), ("app", "list"), ("resource", "list"),
                                   ("consent", "list", "fabrikam.example"), ("consent", "list", "contoso.example"),
                                   ("resource", "connection-string", "fabrikam-acs"), ("trunk", "list"))
                 for line in [" ".join(args), *self.ok(*args)]]
        with sqlite3.connect(self.data_dir / "callbridge.db") as conn:
            rows = list(conn.iterdump())
        conn.close()
        return shown, rows


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """Fabrikam (Alice with a number and TEAMS, Bob), Contoso, one app with a secret, one resource."""
    cli = Cli(tmp_path_factory.mktemp("seed") / "data")
    [fabrikam] = cli.rows("tenant", "create", "Fabrikam", "--domain", "fabrikam.example")
    [contoso] = cli.rows("tenant", "create", "Contoso", "--domain", "contoso.example")
    [alice] = cli.rows("user", "create", "fabrikam.example", "Alice@Fabrikam.example", "--name", "Alice Smith",
                       "--number", "+1 425 555 0101", "--licence", "teams")
    cli.ok("user", "create", "fabrikam.example", "bob@fabrikam.example", "--name", "Bob Jones")
    app = dict(cli.rows("app", "create", "fabrikam.example", "Fabrikam Calling", "--permission", "User.Read",
                        "--permission", TEAMS_CALLS, "--app-permission", "User.Read.All", "--secret-days", "30"))
    [resource] = cli.rows("resource", "create", "fabrikam.example", "fabrikam-acs")
    cli.ok("trunk", "add", "fabrikam.example", "carrier", "--host", "127.0.0.1", "--port", "5070", "--numbers", "+",
           "--allow", "127.0.0.1")
    cli.ids = {"fabrikam": fabrikam[0], "contoso": contoso[0], "alice": alice[0], "client_id": app["client_id"],
               "client_secret": app["client_secret"], "resource": resource[0]}
    assert [fabrikam[1:], contoso[1:], alice[1:], resource[1:]] == [
        ["Fabrikam", "fabrikam.example"], ["Contoso", "contoso.example"], ["alice@fabrikam.example"],
        ["fabrikam-acs"]]
    assert all(GUID.fullmatch(cli.ids[k]) for k in ("fabrikam", "contoso", "alice", "client_id", "resource"))
    return cli


@pytest.fixture
def cli(seeded: Cli, tmp_path: Path) -> Cli:
    """A copy of the seeded directory of this test's own."""
    shutil.copytree(seeded.data_dir, tmp_path / "data")
    return Cli(tmp_path / "data", dict(seeded.ids))


# -- tenants --------------------------------------------------------------------------------------------------
def test_tenants_are_listed_with_their_domains_and_settings(cli: Cli) -> None:
    assert cli.rows("tenant", "list") == [
        [cli.ids["contoso"], "Contoso", "contoso.example", "acs_interop_enabled user_consent_allowed"],
        [cli.ids["fabrikam"], "Fabrikam", "fabrikam.example", "acs_interop_enabled user_consent_allowed"],
    ]


def test_a_tenant_is_created_with_a_given_id_several_domains_and_settings(cli: Cli) -> None:
    tenant_id = "6B29FC40-CA47-1067-B31D-00DD010662DA"
    assert cli.rows("tenant", "create", "Northwind", "--domain", "northwind.example", "--domain", "NW.example",
                    "--id", tenant_id, "--no-interop", "--password-grant") == [
        [tenant_id.lower(), "Northwind", "northwind.example,nw.example"]]
    assert [tenant_id.lower(), "Northwind", "northwind.example,nw.example",
            "password_grant_enabled user_consent_allowed"] in cli.rows("tenant", "list")


def test_tenant_settings_are_set_by_domain_or_id(cli: Cli) -> None:
    assert cli.ok("tenant", "set", "fabrikam.example", "password_grant_enabled", "on") == [
        "password_grant_enabled = on"]
    cli.ok("tenant", "set", "{contoso}", "user_consent_allowed", "off")
    cli.ok("tenant", "set", "{contoso}", "acs_interop_enabled", "no")

    assert [row[3] for row in cli.rows("tenant", "list")] == [
        "", "acs_interop_enabled password_grant_enabled user_consent_allowed"]


# -- users ----------------------------------------------------------------------------------------------------
def test_users_are_listed_with_licences_numbers_and_state(cli: Cli) -> None:
    [alice, bob] = cli.rows("user", "list", "fabrikam.example")
    assert alice == [cli.ids["alice"], "alice@fabrikam.example", "Alice Smith", "TEAMS", "+14255550101", "enabled"]
    assert bob[1:] == ["bob@fabrikam.example", "Bob Jones", "-", "-", "enabled"]
    assert cli.rows("user", "list", "contoso.example") == []


def test_a_user_is_created_with_a_given_id_and_every_licence(cli: Cli) -> None:
    user_id = "3F2504E0-4F89-11D3-9A0C-0305E82C3301"
    assert cli.rows("user", "create", "contoso.example", "carol@contoso.example", "--name", "Carol White",
                    "--id", user_id, "--admin", "--licence", "TEAMS", "--licence", "TEAMS_PHONE",
                    "--number", "+44 20 7946 0958", "--password", "Correct-Horse-1") == [
        [user_id.lower(), "carol@contoso.example"]]
    assert cli.rows("user", "list", "{contoso}") == [
        [user_id.lower(), "carol@contoso.example", "Carol White", "TEAMS,TEAMS_PHONE", "+442079460958", "enabled"]]


def test_licences_are_added_and_removed(cli: Cli) -> None:
    assert cli.rows("user", "licence", "bob@fabrikam.example", "add", "teams_phone") == [
        ["bob@fabrikam.example", "TEAMS_PHONE"]]
    assert cli.rows("user", "licence", "{alice}", "remove", "TEAMS") == [["alice@fabrikam.example", "-"]]
    assert [row[3] for row in cli.rows("user", "list", "fabrikam.example")] == ["-", "TEAMS_PHONE"]


def test_numbers_are_assigned_and_released(cli: Cli) -> None:
    assert cli.rows("user", "number", "alice@fabrikam.example", "--release") == [["alice@fabrikam.example", "-"]]
    assert cli.rows("user", "number", "bob@fabrikam.example", "+1 (425) 555-0101") == [
        ["bob@fabrikam.example", "+14255550101"]]
    assert [row[4] for row in cli.rows("user", "list", "fabrikam.example")] == ["-", "+14255550101"]


def test_accounts_are_disabled_and_enabled(cli: Cli) -> None:
    assert cli.rows("user", "enable", "bob@fabrikam.example", "--off") == [["bob@fabrikam.example", "disabled"]]
    assert [row[5] for row in cli.rows("user", "list", "fabrikam.example")] == ["enabled", "disabled"]
    assert cli.rows("user", "enable", "BOB@fabrikam.example") == [["bob@fabrikam.example", "enabled"]]
    assert [row[5] for row in cli.rows("user", "list", "fabrikam.example")] == ["enabled", "enabled"]


# -- apps, secrets, consent -----------------------------------------------------------------------------------
def test_apps_are_listed(cli: Cli) -> None:
    [[_, client_id]] = cli.rows("app", "create", "contoso.example", "Contoso Portal", "--multi-tenant",
                                "--public-client", "--redirect-uri", "https://portal.contoso.example/cb",
                                "--redirect-uri", "http://localhost:8400")
    assert cli.rows("app", "list") == [
        [client_id, "Contoso Portal", "multi-tenant", "https://portal.contoso.example/cb http://localhost:8400"],
        [cli.ids["client_id"], "Fabrikam Calling", "single-tenant", "-"],
    ]


def test_app_secrets_are_shown_once_and_work(cli: Cli) -> None:
    before = datetime.now(UTC)
    [[value, expiry]] = cli.rows("app", "secret", "{client_id}", "--days", "10")
    after = datetime.now(UTC)

    dates = {f"(expires {(t + timedelta(days=10)):%Y-%m-%d}; shown once)" for t in (before, after)}
    assert expiry in dates
    assert value != cli.ids["client_secret"] and len(value) >= 40

    async def matching() -> list[bool]:
        db = Database(cli.database_url)
        try:
            async with db.session() as s:
                app = await apps.get_app(s, cli.ids["client_id"])
                return [apps.secret_matches(app, v, datetime.now(UTC))
                        for v in (cli.ids["client_secret"], value, value[:-1])]
        finally:
            await db.close()

    assert asyncio.run(matching()) == [True, True, False]


def test_admin_consent_grants_what_the_app_requires(cli: Cli) -> None:
    [[_, client_id]] = cli.rows("app", "create", "fabrikam.example", "Shared Calling", "--multi-tenant",
                                "--permission", "User.Read", "--permission", "Presence.Read",
                                "--permission", TEAMS_CALLS, "--app-permission", "User.Read.All")

    [line] = cli.ok("consent", "grant", "contoso.example", client_id)
    prefix, _, granted = line.partition(": ")
    assert prefix == "granted in Contoso"
    assert sorted(granted.split()) == ["Presence.Read", "Teams.ManageCalls", "User.Read", "User.Read.All"]
    assert sorted(cli.rows("consent", "list", "contoso.example")) == [
        [client_id, GRAPH_APP_ID, "AllPrincipals", "-", "Presence.Read User.Read"],
        [client_id, COMMUNICATION_APP_ID, "AllPrincipals", "-", "Teams.ManageCalls"],
    ]
    assert cli.rows("consent", "list", "fabrikam.example") == []


# -- communication resources and signing keys -----------------------------------------------------------------
def test_resources_are_listed_and_rotating_a_key_changes_only_that_connection_string(cli: Cli) -> None:
    [[resource_id, name, rotated]] = cli.rows("resource", "list")
    assert (resource_id, name) == (cli.ids["resource"], "fabrikam-acs") and rotated.startswith("keys rotated ")
    [primary] = cli.ok("resource", "connection-string", "fabrikam-acs")
    [secondary] = cli.ok("resource", "connection-string", "{resource}", "--key", "secondary")
    assert primary.startswith(f"endpoint={BASE_URL}/;accesskey=") and primary != secondary

    assert cli.ok("resource", "rotate-key", "fabrikam-acs", "primary") == ["primary key rotated"]

    [new_primary] = cli.ok("resource", "connection-string", "fabrikam-acs")
    assert new_primary.startswith(f"endpoint={BASE_URL}/;accesskey=") and new_primary != primary
    assert cli.ok("resource", "connection-string", "fabrikam-acs", "--key", "secondary") == [secondary]


def test_a_resource_name_is_stored_in_lower_case(cli: Cli) -> None:
    [[resource_id, name]] = cli.rows("resource", "create", "contoso.example", "Contoso-ACS")
    assert name == "contoso-acs"
    assert [resource_id, "contoso-acs"] in [row[:2] for row in cli.rows("resource", "list")]


def test_rotating_signing_keys_retires_the_old_one(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "not-yet-made")  # keys rotate may be the first command ever run

    [line] = cli.ok("keys", "rotate")
    kid = re.fullmatch(r"new idp key (\S+); retired keys stay published for \d+ s", line)
    assert kid is not None
    keys = cli.rows("keys", "list")
    assert [k[4] for k in keys if k[4] == "active"] == ["active"]
    assert [k[0] for k in keys if k[4] == "active"] == [kid[1]]
    assert [k[1:3] for k in keys] == [["idp", "RS256"]] * 2
    [retired] = [k for k in keys if k[4] != "active"]
    assert retired[4].startswith("retired, published until ")

    [line] = cli.ok("keys", "rotate", "--purpose", "communication")
    assert line.startswith("new communication key ")
    states = sorted((k[1], k[2], k[4].split(",")[0]) for k in cli.rows("keys", "list"))
    assert states == [("communication", "ES256", "active"), ("communication", "ES256", "retired"),
                      ("idp", "RS256", "active"), ("idp", "RS256", "retired")]


# -- trunks ---------------------------------------------------------------------------------------------------
def test_trunks_are_added_listed_changed_and_removed(cli: Cli) -> None:
    added = cli("trunk", "add", "fabrikam.example", "sbc-eu", "--host", "SBC.Fabrikam.example", "--transport",
                "tls", "--port", "5061", "--numbers", "+44", "--numbers", "+33 1", "--allow", "192.0.2.0/24",
                "--allow", "198.51.100.7", "--inbound-user", "fab", "--inbound-password",
                "s3cret", "--outbound-user", "fabrikam", "--outbound-password", "carrier-pass",
                "--max-calls", "20", "--max-cps", "5")
    assert added.exit_code == 0  # added, with a warning: this deployment does not listen on TLS
    assert added.stderr == ("warning: SIP does not listen on tls here (CALLBRIDGE_SIP_TRANSPORTS is udp,tcp): "
                            "calls over this trunk fail until it does\n")
    assert [line.split("\t") for line in added.stdout.splitlines()] == [
        ["sbc-eu", "tls:sbc.fabrikam.example:5061", "enabled", "numbers +331 +44",
         "from 192.0.2.0/24 198.51.100.7/32 (digest fab@callbridge)",
         "answers challenges as fabrikam", "20 calls, 5/s"]]
    cli.ok("trunk", "set", "{fabrikam}", "sbc-eu", "--disable", "--numbers", "+4420", "--transport", "tcp")
    assert [row[:4] for row in cli.rows("trunk", "list", "fabrikam.example")] == [
        ["carrier", "udp:127.0.0.1:5070", "enabled", "numbers +"],
        ["sbc-eu", "tcp:sbc.fabrikam.example:5061", "disabled", "numbers +4420"]]
    assert cli.rows("trunk", "list", "contoso.example") == []
    assert cli.ok("trunk", "remove", "fabrikam.example", "sbc-eu") == ["trunk sbc-eu removed"]
    assert [row[0] for row in cli.rows("trunk", "list")] == ["carrier"]

    with sqlite3.connect(cli.data_dir / "callbridge.db") as conn:  # no inbound password is kept, only HA1s
        assert "s3cret" not in "\n".join(conn.iterdump())
    conn.close()


# -- refusals -------------------------------------------------------------------------------------------------
REFUSALS = [
    pytest.param(("user", "create", "nowhere.example", "carol@nowhere.example", "--name", "Carol"),
                 "error: no tenant 'nowhere.example'", id="unknown-tenant"),
    pytest.param(("app", "create", "nowhere.example", "Calling"), "error: no tenant 'nowhere.example'",
                 id="unknown-tenant-for-app"),
    pytest.param(("user", "create", "fabrikam.example", "carol@fabrikam.example", "--name", "Carol",
                  "--number", "+14255550101"),
                 "error: number +14255550101 is already assigned to alice@fabrikam.example", id="duplicate-number"),
    pytest.param(("user", "number", "bob@fabrikam.example", "+1 425-555-0101"),
                 "error: number +14255550101 is already assigned to alice@fabrikam.example",
                 id="duplicate-number-assigned"),
    pytest.param(("user", "number", "bob@fabrikam.example", "425 555 0102"),
                 "error: phone number '425 555 0102' is not E.164", id="malformed-e164"),
    pytest.param(("user", "create", "fabrikam.example", "carol@fabrikam.example", "--name", "Carol",
                  "--number", "+1 800 FLOWERS"), "error: phone number '+1 800 FLOWERS' is not E.164",
                 id="vanity-number"),
    pytest.param(("tenant", "create", "Northwind", "--domain", "northwind.example", "--id", "not-a-guid"),
                 "error: tenant id 'not-a-guid' is not a GUID", id="bad-tenant-guid"),
    pytest.param(("user", "create", "fabrikam.example", "carol@fabrikam.example", "--name", "Carol",
                  "--id", "not-a-guid"), "error: user id 'not-a-guid' is not a GUID", id="bad-user-guid"),
    pytest.param(("consent", "grant", "contoso.example", "not-a-guid"),
                 "error: client id 'not-a-guid' is not a GUID", id="bad-client-guid"),
    pytest.param(("user", "licence", "alice@fabrikam.example", "add", "E5"), "error: unknown licence 'E5'",
                 id="unknown-licence"),
    pytest.param(("user", "create", "fabrikam.example", "carol@fabrikam.example", "--name", "Carol",
                  "--licence", "TEAMS", "--licence", "E5"), "error: unknown licence 'E5'",
                 id="unknown-licence-on-create"),
    pytest.param(("app", "create", "fabrikam.example", "Calling 2", "--permission", "User.Read",
                  "--permission", "Nope.Read"), "error: unknown delegated permission 'Nope.Read'",
                 id="unknown-permission"),
    pytest.param(("app", "create", "fabrikam.example", "Calling 2", "--app-permission", "User.Read"),
                 "error: unknown application permission 'User.Read'", id="unknown-app-permission"),
    pytest.param(("app", "create", "fabrikam.example", "Calling 2", "--permission", "User.Read",
                  "--secret-days", "-1"), "error: a secret must live at least one day",
                 id="app-refused-after-it-was-made"),
    pytest.param(("app", "create", "fabrikam.example", "Calling 2", "--redirect-uri",
                  "http://localhost.evil.example/cb"), "must use https (http only for localhost)",
                 id="http-redirect-uri"),
    pytest.param(("consent", "grant", "contoso.example", "{client_id}"),
                 "error: app Fabrikam Calling is single-tenant and cannot be used in Contoso",
                 id="single-tenant-app-elsewhere"),
    pytest.param(("tenant", "create", "Impostor", "--domain", "impostor.example", "--domain", "FABRIKAM.example"),
                 "error: domain fabrikam.example is already verified by another tenant", id="duplicate-domain"),
    pytest.param(("user", "create", "fabrikam.example", "ALICE@fabrikam.example", "--name", "Alice 2"),
                 "error: user alice@fabrikam.example already exists", id="duplicate-upn"),
    pytest.param(("user", "create", "fabrikam.example", "carol@contoso.example", "--name", "Carol"),
                 "error: domain contoso.example of carol@contoso.example is not verified by tenant Fabrikam",
                 id="foreign-domain"),
    pytest.param(("tenant", "set", "fabrikam.example", "password_grant_enabled", "maybe"),
                 "error: expected on or off, not 'maybe'", id="not-on-or-off"),
    pytest.param(("user", "enable", "nobody@fabrikam.example", "--off"),
                 "error: no user 'nobody@fabrikam.example'", id="unknown-user"),
    pytest.param(("resource", "rotate-key", "nowhere-acs", "primary"),
                 "error: no communication resource 'nowhere-acs'", id="unknown-resource"),
    pytest.param(("resource", "create", "fabrikam.example", "FABRIKAM-ACS"),
                 "error: resource fabrikam-acs already exists", id="duplicate-resource"),
    pytest.param(("trunk", "add", "fabrikam.example", "carrier", "--host", "10.0.0.1", "--numbers", "+",
                  "--allow", "10.0.0.1"), "error: tenant Fabrikam already has a trunk named 'carrier'",
                 id="duplicate-trunk"),
    pytest.param(("trunk", "add", "fabrikam.example", "t2", "--host", "no host!", "--numbers", "+",
                  "--allow", "10.0.0.1"), "error: domain 'no host!' is not a valid DNS name", id="trunk-bad-host"),
    pytest.param(("trunk", "add", "fabrikam.example", "t2", "--host", "10.0.0.1", "--numbers", "1425",
                  "--allow", "10.0.0.1"), "error: number prefix '1425' must be + and up to 15 digits",
                 id="trunk-bad-prefix"),
    pytest.param(("trunk", "add", "fabrikam.example", "t2", "--host", "10.0.0.1", "--numbers", "+",
                  "--allow", "10.0.0.300"), "error: source '10.0.0.300' is not an address or a CIDR range",
                 id="trunk-bad-cidr"),
    pytest.param(("trunk", "add", "fabrikam.example", "t2", "--host", "10.0.0.1", "--allow", "10.0.0.1"),
                 "error: a trunk needs the numbers it carries", id="trunk-without-numbers"),
    pytest.param(("trunk", "add", "fabrikam.example", "t2", "--host", "10.0.0.1", "--numbers", "+"),
                 "error: a trunk needs inbound sources (--allow CIDR) or inbound credentials", id="trunk-open"),
    pytest.param(("trunk", "add", "fabrikam.example", "t2", "--host", "10.0.0.1", "--numbers", "+",
                  "--allow", "10.0.0.1", "--transport", "tls"), "error: SIP over TLS is on port 5061",
                 id="trunk-tls-on-5060"),
    pytest.param(("trunk", "add", "fabrikam.example", "t2", "--host", "10.0.0.1", "--numbers", "+",
                  "--inbound-user", "fab"), "error: give both --inbound-user and --inbound-password",
                 id="trunk-half-credentials"),
    pytest.param(("trunk", "add", "fabrikam.example", "t2", "--host", "10.0.0.1", "--numbers", "+",
                  "--allow", "10.0.0.1", "--port", "70000"), "error: the port must be between 1 and 65535",
                 id="trunk-bad-port"),
    pytest.param(("trunk", "set", "fabrikam.example", "carrier", "--max-cps", "0"),
                 "error: max calls per second must be between 1 and 10000", id="trunk-bad-cps"),
    pytest.param(("trunk", "remove", "contoso.example", "carrier"),
                 "error: tenant Contoso has no trunk named 'carrier'", id="trunk-of-another-tenant"),
]


@pytest.mark.parametrize(("args", "message"), REFUSALS)
def test_a_refused_change_is_one_error_line_and_changes_nothing(cli: Cli, args: tuple[str, ...],
                                                                message: str) -> None:
    before = cli.snapshot()

    result = cli(*args)

    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exc_info
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and message in line
    assert cli.snapshot() == before
