"""Time zones of ``Prefer: outlook.timezone="..."``: Windows names ("Pacific Standard Time") and IANA names."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import win_tz

from callbridge.graph.errors import bad_request

UTC_NAMES = {"utc", "etc/utc", "coordinated universal time"}
# A moment a day away from datetime's ends can be stored in UTC and shown in every zone (offsets reach 14 hours).
EARLIEST, LATEST = datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC)


def resolve(name: str) -> ZoneInfo:
    text = name.strip()
    if text.lower() in UTC_NAMES:
        return ZoneInfo("UTC")
    iana = win_tz.get(text, text)
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        raise bad_request(f"The time zone '{name}' is not supported.", "ErrorTimeZoneNotSupported") from None


def preferred(prefer_header: str | None) -> str | None:
    """The zone named by ``Prefer: outlook.timezone="..."`` (one of possibly several preferences)."""
    if not prefer_header:
        return None
    for part in prefer_header.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "outlook.timezone":
            return value.strip().strip('"')
    return None


def graph_datetime(moment: datetime, zone_name: str) -> dict[str, str]:
    """Graph's dateTimeTimeZone: local wall time with seven fractional digits, and the zone's name."""
    local = moment.astimezone(resolve(zone_name))
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond:06d}0", "timeZone": zone_name}


def parse_graph_datetime(value: object, field: str) -> datetime:
    """A dateTimeTimeZone from a request body -> an aware datetime."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise bad_request(f"'{field}' must be an object with dateTime and timeZone.", "ErrorInvalidRequest")
    zone = resolve(str(value.get("timeZone") or "UTC"))
    try:
        parsed = datetime.fromisoformat(value["dateTime"].rstrip("Z")[:26])
    except ValueError:
        raise bad_request(f"'{field}.dateTime' is not an ISO 8601 date and time.", "ErrorInvalidRequest") from None
    moment = parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed
    if not _representable(moment):
        raise bad_request(f"'{field}.dateTime' is out of range.", "ErrorInvalidRequest")
    return moment


def parse_query_datetime(value: str | None, name: str) -> datetime:
    if not value:
        raise bad_request("This request requires a time window specified by the query string parameters "
                          "StartDateTime and EndDateTime.", "ErrorInvalidParameter")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise bad_request(f"The value '{value}' of parameter '{name}' is not a valid ISO 8601 date.",
                          "ErrorInvalidParameter") from None
    moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo("UTC"))
    if not _representable(moment):
        raise bad_request(f"The value '{value}' of parameter '{name}' is out of range.", "ErrorInvalidParameter")
    return moment


def _representable(moment: datetime) -> bool:
    try:
        return EARLIEST <= moment.astimezone(UTC) <= LATEST
    except OverflowError:
        return False
