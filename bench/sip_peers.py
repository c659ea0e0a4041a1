"""The load generators of the media figure in ``bench/sip_calls.py``, each in its own process so that their CPU is
not the gateway's (``python -m bench.sip_peers agents|phones ...``; sip_calls starts them):

- ``agents``: one Python agent (callbridge.sdk, aiortc) per communication token given on stdin (a JSON list); each
  accepts every incoming call with a 1000 Hz tone. ICE host candidates on 127.0.0.1 only. Prints ``ready``.
- ``phones``: virtual phones of the built-in carrier (SIP + RTP G.711, sending 440 Hz) dialling the numbers given;
  once every call is connected it prints ``connected``, waits ``--warm`` seconds, prints ``mark``, waits
  ``--window`` seconds, prints one JSON line (per phone: samples heard in the window, and its dominant frequency),
  then hangs up and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import numpy as np

AGENT_HZ = 1000.0


async def agents(base_url: str, ca_file: str, tokens: list[str]) -> None:
    import aioice.ice

    from callbridge.sdk import CallClient, CommunicationTokenCredential, ToneSource

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    accepting: set[asyncio.Future[Any]] = set()

    def on_incoming(args: Any) -> None:
        task = asyncio.ensure_future(args.incoming_call.accept(audio=ToneSource(AGENT_HZ)))
        accepting.add(task)
        task.add_done_callback(accepting.discard)

    made = []
    for token in tokens:
        client = CallClient(base_url, ca_file=ca_file)
        agent = await client.create_teams_call_agent(CommunicationTokenCredential(token))
        agent.on("incoming_call", on_incoming)
        made.append(agent)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
    for agent in made:
        await agent.dispose()


async def phones(sip_port: int, numbers: list[str], warm: float, window: float, rtp_first: int) -> None:
    from callbridge.carrier.network import Carrier, PhoneSpec
    from callbridge.carrier.phone import PhoneState
    from callbridge.media.rtp_endpoint import PortRange
    from callbridge.sdk.media import dominant_frequency
    from callbridge.sip.transport import Address

    carrier = Carrier(Address("127.0.0.1", sip_port, "UDP"), rtp_ports=PortRange(rtp_first, rtp_first + 999))
    specs = [PhoneSpec(f"+1206555{i:04d}", f"Bench Phone {i}") for i in range(len(numbers))]
    await carrier.start(specs)
    try:
        lines = [carrier.phone(spec.number) for spec in specs]
        for line, number in zip(lines, numbers, strict=True):
            await line.dial(number)
        deadline = time.monotonic() + 30
        while not all(p.state is PhoneState.CONNECTED for p in lines):
            if time.monotonic() > deadline:
                states = [str(p.state) + (f" ({p.call.outcome})" if p.call and p.call.outcome else "") for p in lines]
                print(json.dumps({"error": f"not all connected in 30 s: {states}"}), flush=True)
                return
            await asyncio.sleep(0.05)
        print("connected", flush=True)
        await asyncio.sleep(warm)
        marks = [p.recording.mark() for p in lines]
        print("mark", flush=True)
        await asyncio.sleep(window)
        heard = []
        for p, mark in zip(lines, marks, strict=True):
            samples = np.asarray(p.recording.since(mark), dtype=np.float32) / 32768.0
            heard.append({"samples": len(samples),
                          "hz": dominant_frequency(samples, 8000) if len(samples) > 800 else 0.0})
        print(json.dumps({"heard": heard}), flush=True)
        for p in lines:
            if p.state is PhoneState.CONNECTED:
                await p.hang_up()
        await asyncio.sleep(0.5)
    finally:
        await carrier.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="role", required=True)
    a = sub.add_parser("agents")
    a.add_argument("--base-url", required=True)
    a.add_argument("--ca-file", required=True)
    p = sub.add_parser("phones")
    p.add_argument("--sip-port", type=int, required=True)
    p.add_argument("--warm", type=float, default=3)
    p.add_argument("--window", type=float, default=10)
    p.add_argument("--rtp-first", type=int, default=46_000)
    p.add_argument("numbers", nargs="+")
    args = parser.parse_args()
    if args.role == "agents":
        asyncio.run(agents(args.base_url, args.ca_file, json.loads(sys.stdin.readline())))
    else:
        asyncio.run(phones(args.sip_port, args.numbers, args.warm, args.window, args.rtp_first))


if __name__ == "__main__":
    main()
