"""Carries out the mixer actions of the calls (``calling/mixing.py``) against the mixer: in order within a call
(its room opens before anyone joins it), calls side by side; each result goes back to the call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from callbridge import metrics
from callbridge.calling.mixing import (
    AnswerRoom,
    CloseRoom,
    LeaveRoom,
    Mixer,
    MixerAction,
    MixerError,
    MuteInRoom,
    Negotiate,
    OpenRoom,
    TrickleRoom,
)
from callbridge.logs import Throttled
from callbridge.tasks import cancelled

log = logging.getLogger("callbridge.calling.mixer")
throttled = Throttled(log)

SdpFromMixer = Callable[[str, str, str], Awaitable[None]]  # (call, participant, sdp)
MixerFailed = Callable[[str, str, str], Awaitable[None]]  # (call, participant, why)


class MixerRunner:
    def __init__(self, mixer: Mixer, on_sdp: SdpFromMixer, on_failed: MixerFailed) -> None:
        self.mixer, self._on_sdp, self._on_failed = mixer, on_sdp, on_failed
        self._queues: dict[str, asyncio.Queue[MixerAction]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    def submit(self, action: MixerAction) -> None:
        queue = self._queues.get(action.call_id)
        if queue is None:
            queue = self._queues[action.call_id] = asyncio.Queue()
            self._workers[action.call_id] = asyncio.create_task(self._work(action.call_id, queue))
        queue.put_nowait(action)

    async def stop(self) -> None:
        for task in list(self._workers.values()):
            await cancelled(task)

    async def _work(self, call_id: str, queue: asyncio.Queue[MixerAction]) -> None:
        try:
            while True:
                action = await queue.get()
                await self._do(action)
                if isinstance(action, CloseRoom):
                    return
        finally:
            self._queues.pop(call_id, None)
            self._workers.pop(call_id, None)

    async def _do(self, action: MixerAction) -> None:
        room = action.call_id
        try:
            await self._carry(action)
        except Exception as exc:  # a refusal, or a bug: either way the participant cannot be mixed
            extra = {"call_id": room, "action": type(action).__name__, "why": str(exc)}
            metrics.MIXER_FAILURES.labels(type(action).__name__).inc()
            if isinstance(exc, MixerError):
                throttled.warning("the mixer failed", extra=extra)
            else:
                throttled.exception("the mixer action failed", extra=extra)
            if isinstance(action, Negotiate | AnswerRoom):
                await self._on_failed(room, action.participant_id, str(exc))

    async def _carry(self, action: MixerAction) -> None:
        room = action.call_id
        match action:
            case OpenRoom():
                await self.mixer.open_room(room)
            case Negotiate(participant_id=pid, display_name=name, offer=None, plain=plain):
                await self._on_sdp(room, pid, await self.mixer.offer(room, pid, name, plain))
            case Negotiate(participant_id=pid, display_name=name, offer=str() as offer):
                await self._on_sdp(room, pid, await self.mixer.answer(room, pid, name, offer))
            case AnswerRoom(participant_id=pid, answer=answer):
                if (moved := await self.mixer.complete(room, pid, answer)) is not None:
                    await self._on_sdp(room, pid, moved)
            case TrickleRoom(participant_id=pid, candidate=candidate):
                await self.mixer.trickle(room, pid, candidate)
            case MuteInRoom(participant_id=pid, muted=muted):
                await self.mixer.mute(room, pid, muted)
            case LeaveRoom(participant_id=pid):
                await self.mixer.leave(room, pid)
            case CloseRoom():
                await self.mixer.close_room(room)
