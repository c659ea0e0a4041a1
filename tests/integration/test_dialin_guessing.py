"""Guessing a meeting's conference id by phone, on a platform served as `callbridge serve` serves it, with the
built-in carrier's phones dialling the toll number: Kim types two wrong ids (this platform allows two per number),
then the right one, and is not looked up: the call says goodbye and ends instead of joining; calling again does
not start over; Ben, from another number, types the right id at once and waits in the meeting's lobby."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from callbridge.carrier.network import Carrier
from callbridge.carrier.phone import PhoneState, VirtualPhone
from callbridge.demo import CUSTOMERS
from callbridge.media.rtp_endpoint import PortRange
from tests.conftest import Demo, seeded_platform
from tests.integration.test_meetings import the_meeting
from tests.support.carrier import running_carrier
from tests.support.server import free_sip_port

KIM, BEN = CUSTOMERS[0][0], CUSTOMERS[1][0]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with seeded_platform(tmp_path_factory.mktemp("dialin-guard"), log_level="WARNING", sip_port=free_sip_port(),
                         carrier_port=free_sip_port(), media_engine="aiortc", dialin_wrong_ids_per_number=2,
                         dialin_inter_digit_timeout_s=1.0) as served:
        yield served


@pytest.fixture
async def carrier(guarded: Demo) -> AsyncIterator[Carrier]:
    async with running_carrier(guarded, PortRange(46_400, 46_599)) as network:
        yield network


async def until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def types(phone: VirtualPhone, entry: str) -> None:
    await phone.send_dtmf(entry)
    await asyncio.sleep(1.5)  # the lookup, and the start of the next prompt (digits barge in)


async def test_a_number_that_guessed_wrong_is_not_looked_up_again(guarded: Demo, carrier: Carrier) -> None:
    conference_id = the_meeting(guarded)["onlineMeeting"]["conferenceId"]
    kim = carrier.phone(KIM)
    await kim.dial(guarded.settings.meeting_toll_number)
    await until(lambda: kim.state is PhoneState.CONNECTED)
    await types(kim, "111111111#")
    await types(kim, "222222222#")
    assert kim.state is PhoneState.CONNECTED  # two wrong of three: asked again
    await kim.send_dtmf(conference_id + "#")  # right, but from a number that guessed: not looked up
    await until(lambda: kim.state is PhoneState.IDLE)  # "call again later", goodbye, BYE

    await kim.dial(guarded.settings.meeting_toll_number)  # calling again does not start over
    await until(lambda: kim.state is PhoneState.CONNECTED)
    await kim.send_dtmf(conference_id + "#")
    await until(lambda: kim.state is PhoneState.IDLE)

    ben = carrier.phone(BEN)  # another number is looked up: the meeting is found, Ben waits in its lobby
    await ben.dial(guarded.settings.meeting_toll_number)
    await until(lambda: ben.state is PhoneState.CONNECTED)
    await ben.send_dtmf(conference_id + "#")
    await asyncio.sleep(4.0)
    assert ben.state is PhoneState.CONNECTED
    await ben.hang_up()

