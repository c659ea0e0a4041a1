"""The switchboard and the policy, sans-I/O: many calls' deadlines in one heap on a fake clock, ended calls set
aside as they end, and the directory's verdict on who may call whom."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from callbridge.calling.call import CallError, Leg
from callbridge.calling.policy import Party, judge
from callbridge.calling.protocol import Accept, CallCommand, CallCommandKind, Ice
from callbridge.calling.switchboard import Switchboard

T0 = datetime(2026, 11, 27, 12, tzinfo=UTC)
RING, GRACE = timedelta(seconds=120), timedelta(seconds=60)


def board() -> Switchboard:
    ids = itertools.count(1)
    return Switchboard(RING, GRACE, lambda: f"call-{next(ids)}")


def place(sb: Switchboard, n: int, at: datetime) -> str:
    call, _ = sb.start(Leg(f"8:orgid:caller{n}", f"Caller {n}", agent_id=f"caller-{n}"),
                       Leg(f"8:orgid:callee{n}", f"Callee {n}"), [f"callee-{n}"], "19:t", "offer", at)
    return call.id


def test_ring_deadlines_of_many_calls_fire_in_order_and_only_when_due() -> None:
    sb = board()
    ids = [place(sb, n, T0 + timedelta(seconds=n)) for n in range(5)]
    assert sb.next_deadline() == T0 + RING
    sb.command("callee-0", CallCommand(CallCommandKind.ACCEPT, ids[0], Accept("answer")), T0 + timedelta(seconds=10))
    assert sb.next_deadline() == T0 + RING + timedelta(seconds=1)  # the answered call has no deadline left
    assert sb.on_timer(T0 + RING + timedelta(seconds=1, milliseconds=500)) != []
    assert [c.id for c in sb.take_ended()] == [ids[1]]
    assert sb.take_ended() == []
    sb.on_timer(T0 + RING + timedelta(seconds=10))
    ended = sb.take_ended()
    assert [c.id for c in ended] == ids[2:]
    assert {(c.end_reason.code, c.end_reason.sub_code) for c in ended if c.end_reason} == {(487, 10004)}
    assert sb.next_deadline() is None and set(sb.calls) == {ids[0]}


def test_commands_on_a_ringing_call_do_not_grow_the_heap() -> None:
    sb = board()
    call_id = place(sb, 1, T0)
    for _ in range(1000):
        sb.command("callee-1", CallCommand(CallCommandKind.ICE, call_id, Ice({"candidate": "c"})), T0)
    assert len(sb._deadlines) == 1


def test_an_ended_call_leaves_no_trace_of_its_agents() -> None:
    sb = board()
    call, _ = sb.start(Leg("8:orgid:a", "A", agent_id="a-1"), Leg("8:orgid:b", "B"), ["b-1", "b-2"], "19:t",
                       None, T0)
    sb.command("b-1", CallCommand(CallCommandKind.REJECT, call.id), T0)
    sb.command("b-2", CallCommand(CallCommandKind.ACCEPT, call.id), T0)
    sb.command("a-1", CallCommand(CallCommandKind.HANG_UP, call.id), T0 + timedelta(seconds=5))
    assert [c.id for c in sb.take_ended()] == [call.id]
    assert not sb.agents_in_calls() and not sb.calls
    with pytest.raises(CallError) as refused:
        sb.command("b-2", CallCommand(CallCommandKind.HOLD, call.id), T0)
    assert refused.value.code == 404


def test_a_lost_agent_that_comes_back_cancels_its_grace_and_one_that_does_not_ends_the_call() -> None:
    sb = board()
    first, second = place(sb, 1, T0), place(sb, 2, T0)
    for n, call_id in ((1, first), (2, second)):
        sb.command(f"callee-{n}", CallCommand(CallCommandKind.ACCEPT, call_id), T0)
        sb.agent_gone(f"caller-{n}", T0 + timedelta(seconds=1))
    assert sb.next_deadline() == T0 + timedelta(seconds=1) + GRACE
    sb.agent_back("caller-1")
    sb.on_timer(T0 + timedelta(seconds=2) + GRACE)
    [ended] = sb.take_ended()
    assert ended.id == second and ended.end_reason is not None and ended.end_reason.sub_code == 4521
    assert sb.next_deadline() is None and first in sb.calls


def party(oid: str, **changes: object) -> Party:
    values: dict[str, object] = {"id": oid, "tenant_id": "fabrikam", "display_name": oid.title(), "enabled": True,
                                 "interop": True, "federates": False, "licensed": True, "in_thread": True}
    values.update(changes)
    return Party(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("caller", "callee", "code", "sub_code"), [
    (None, {}, 401, None),
    ({"enabled": False}, {}, 401, None),
    ({}, None, 404, None),
    ({}, {"enabled": False}, 404, None),
    ({"interop": False}, {}, 403, 5222),
    ({}, {"tenant_id": "northwind"}, 403, 5223),
    ({"federates": True}, {"tenant_id": "northwind"}, 403, 5223),
    ({"licensed": False}, {}, 403, 10100),
    ({}, {"licensed": False}, 403, 10100),
    ({}, {"in_thread": False}, 400, 10101),
])
def test_the_policy_refuses_with_acs_codes(caller: dict[str, object] | None, callee: dict[str, object] | None,
                                           code: int, sub_code: int | None) -> None:
    parties = {}
    if caller is not None:
        parties["alice"] = party("alice", **caller)
    if callee is not None:
        parties["megan"] = party("megan", **callee)
    with pytest.raises(CallError) as refused:
        judge(parties, "alice", "megan", "19:t")
    assert refused.value.code == code and (sub_code is None or refused.value.sub_code == sub_code)


def test_the_policy_clears_a_call_within_a_tenant_and_between_federated_tenants() -> None:
    cleared = judge({"alice": party("alice"), "megan": party("megan")}, "alice", "megan", "19:t")
    assert (cleared.callee_raw_id, cleared.callee_name, cleared.caller_tenant) == ("8:orgid:megan", "Megan",
                                                                                     "fabrikam")
    federated = {"alice": party("alice", federates=True), "nina": party("nina", tenant_id="northwind",
                                                                         federates=True)}
    assert judge(federated, "alice", "nina", "19:t").callee_tenant == "northwind"
