"""The calling gauges are read at scrape time from each live calling service of the process and summed: one
service in production; several platforms in one test process each count while they run, none after they stop
(or are collected), and no service overwrites another's."""

from __future__ import annotations

import gc

from prometheus_client import CollectorRegistry, generate_latest

from callbridge.metrics import LIVE_GAUGES, LiveGauges


class Node:
    def __init__(self, calls: int, meetings: int) -> None:
        self.calls, self.meetings = calls, meetings

    def gauges(self) -> dict[str, int]:
        return {"callbridge_calls_active": self.calls, "callbridge_meetings_active": self.meetings}


def scrape(registry: CollectorRegistry) -> dict[str, float]:
    lines = generate_latest(registry).decode().splitlines()
    return {line.split()[0]: float(line.split()[1]) for line in lines if not line.startswith("#")}


def test_each_live_service_counts_once_and_a_stopped_one_not_at_all() -> None:
    live, registry = LiveGauges(), CollectorRegistry()
    registry.register(live)
    assert scrape(registry) == dict.fromkeys(LIVE_GAUGES, 0.0)
    first, second = Node(calls=3, meetings=1), Node(calls=2, meetings=0)
    live.add(first)
    live.add(second)
    assert scrape(registry)["callbridge_calls_active"] == 5 and scrape(registry)["callbridge_meetings_active"] == 1
    first.calls = 4  # read at scrape time, not when set
    assert scrape(registry)["callbridge_calls_active"] == 6
    live.remove(first)
    assert scrape(registry)["callbridge_calls_active"] == 2
    del second
    gc.collect()
    assert scrape(registry)["callbridge_calls_active"] == 0  # a service nobody holds any more is not counted
