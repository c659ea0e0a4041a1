"""The directory's validated values: what is accepted, how it is normalised, and what is refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callbridge.directory.errors import Invalid
from callbridge.directory.values import (
    Licence,
    is_guid,
    parse_domain,
    parse_e164,
    parse_guid,
    parse_licence,
    parse_upn,
)

GUID = "5f0c3b5e-7a1d-4c2b-9e8f-0a1b2c3d4e5f"


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("+1 425 555 0101", "+14255550101"),
        ("+14255550101", "+14255550101"),
        ("+1 (425) 555-0101", "+14255550101"),
        ("+1.425.555.0101", "+14255550101"),
        ("  +44 20 7946 0958 ", "+442079460958"),
        ("+49 30 901820", "+4930901820"),
    ],
)
def test_e164_numbers_are_normalised(text: str, e164: str) -> None:
    assert parse_e164(text) == e164


@pytest.mark.parametrize(
    "text",
    [
        "14255550101",  # no plus
        "425 555 0101",  # national format
        "tel:+14255550101",
        "+1 800 FLOWERS",  # letters, even those a phone keypad maps to digits
        "+1 425 555 CALL",
        "+14255550101abc",
        "+1 425 555 0101 ext. 12",  # an extension is not part of an E.164 number
        "+1 425 555 0101;ext=12",
        "++14255550101",
        "+",
        "+1",
        "+1 425",  # too short
        "+1 425 555 01010101",  # too long
        "+999 425 555 0101",  # no such country code
        "+1 000 555 0101",  # no such area code
        "",
    ],
)
def test_e164_refuses_what_is_not_a_number(text: str) -> None:
    with pytest.raises(Invalid, match="phone number"):
        parse_e164(text)


@settings(deadline=None)  # what is checked is the outcome, not the speed
@given(st.text())
def test_e164_raises_nothing_but_invalid(text: str) -> None:
    try:
        result = parse_e164(text)
    except Invalid:
        return
    assert result.startswith("+") and result[1:].isdigit() and len(result) <= 16


@settings(deadline=None)
@given(st.from_regex(r"\+[0-9 ().-]{0,30}", fullmatch=True))
def test_e164_raises_nothing_but_invalid_on_number_like_text(text: str) -> None:
    try:
        result = parse_e164(text)
    except Invalid:
        return
    assert parse_e164(result) == result  # normalising is idempotent


@pytest.mark.parametrize(
    "text",
    [GUID, GUID.upper(), f" {GUID} ", "{" + GUID.upper() + "}", f"urn:uuid:{GUID}", GUID.replace("-", "")],
)
def test_guids_are_normalised_to_lower_case_with_dashes(text: str) -> None:
    assert parse_guid(text) == GUID


@pytest.mark.parametrize("text", ["not-a-guid", "", GUID[:-1], GUID + "0", GUID.replace("f", "g")])
def test_bad_guids_are_refused_naming_what_they_were_for(text: str) -> None:
    with pytest.raises(Invalid, match=r"^tenant id .* is not a GUID$"):
        parse_guid(text, "tenant id")
    assert not is_guid(text)


def test_is_guid_takes_any_value_without_raising() -> None:
    assert is_guid(GUID)
    assert not is_guid(None)  # type: ignore[arg-type]
    assert not is_guid(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        ("fabrikam.example", "fabrikam.example"),
        ("Fabrikam.EXAMPLE", "fabrikam.example"),
        (" sub.fabrikam.example ", "sub.fabrikam.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("a-b.c-d.example", "a-b.c-d.example"),
    ],
)
def test_domains_are_lower_cased(text: str, domain: str) -> None:
    assert parse_domain(text) == domain


@pytest.mark.parametrize(
    "text",
    [
        "localhost",  # no dot
        "fabrikam",
        "fabrikam.example.",
        "-fabrikam.example",
        "fabrikam-.example",
        "fab_rikam.example",
        "fab rikam.example",
        "fabrikam..example",
        "1.2.3.4",
        "fabrikam.c0m",
        "a" * 64 + ".example",  # a label is at most 63 characters
        ("a" * 60 + ".") * 5 + "example",  # a name is at most 253 characters
        "",
    ],
)
def test_bad_domains_are_refused(text: str) -> None:
    with pytest.raises(Invalid, match="is not a valid DNS name"):
        parse_domain(text)


def test_upn_is_lower_cased_and_split_at_the_domain() -> None:
    assert parse_upn(" Alice.Smith@Fabrikam.Example ") == ("alice.smith@fabrikam.example", "fabrikam.example")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("alice", "must look like name@domain"),
        ("@fabrikam.example", "must look like name@domain"),
        ("al ice@fabrikam.example", "must look like name@domain"),
        ("alice@", "is not a valid DNS name"),
        ("alice@fabrikam", "is not a valid DNS name"),
        ("alice@bob@fabrikam.example", "is not a valid DNS name"),
    ],
)
def test_bad_upns_are_refused(text: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        parse_upn(text)


@pytest.mark.parametrize(
    ("text", "licence"),
    [("TEAMS", Licence.TEAMS), ("teams", Licence.TEAMS), (" Teams_Phone ", Licence.TEAMS_PHONE)],
)
def test_licences_are_matched_case_insensitively(text: str, licence: Licence) -> None:
    assert parse_licence(text) is licence


@pytest.mark.parametrize("text", ["E5", "", "TEAMS PHONE", "MCOEV"])
def test_unknown_licences_are_refused_listing_the_known_ones(text: str) -> None:
    with pytest.raises(Invalid, match=r"unknown licence .*\(known: TEAMS, TEAMS_PHONE\)"):
        parse_licence(text)


def test_licences_carry_the_sku_ids_graph_reports() -> None:
    assert Licence.TEAMS_PHONE.sku_part_number == "MCOEV"
    assert Licence.TEAMS_PHONE.sku_id == "e43b5b99-8dfb-405f-9987-dc307f34bcbd"
    assert Licence.TEAMS.sku_part_number == "TEAMS1"
