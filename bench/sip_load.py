"""sipp as the carrier, and Kamailio as the reference, for ``bench/sip_calls.py``.

A step runs the UAC scenario (``bench/sipp/uac.xml``) at one offered rate for a number of calls, then reads what
sipp wrote: its statistics file (successful and failed calls, and why) and its response-time file (every call's
INVITE -> 200 time, with the time the 200 came). The achieved rate is the rate at which the 200s came; a step is
sustained when every call succeeded and the 200s came at >= 97% of the offered rate.

The reference is Kamailio (Debian's package), a stateful relay as in docs/reference (2 UDP children, ``-m 256``),
in the foreground, in front of a sipp UAS (``bench/sipp/uas.xml``) that answers 180 then 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.call_setup import machine_busy_seconds, percentile
from bench.harness import cpu_seconds

SCENARIOS = Path(__file__).parent / "sipp"
SUSTAINED = 0.97  # 200s at no less than this share of the offered rate
P99_LIMIT_MS = 50.0  # and INVITE -> 200 under this for 99% of calls, with no retransmission
RECV_TIMEOUT_MS = 5000  # a call that waits longer for its next message fails
KAMAILIO_MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def own_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (its threads, not its children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_numbers(path: Path, numbers: list[str]) -> Path:
    """sipp's injection file: one called number a line, taken in turn."""
    path.write_text("SEQUENTIAL\n" + "".join(f"{n};\n" for n in numbers))
    return path


@dataclass
class Step:
    offered: float
    calls: int
    successful: int = 0
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    rtt_ms: list[float] = field(default_factory=list)
    achieved: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # cores over the step, by process (and "other")
    errors: list[str] = field(default_factory=list)  # the first lines of sipp's error log

    @property
    def retransmissions(self) -> int:
        return self.failures.get("Retransmissions", 0)

    @property
    def shortfall(self) -> str | None:
        """Why the step is not sustained (None: it is): failed calls, a rate short of the offered one, a
        retransmission (an answer later than T1, 500 ms), or a p99 INVITE -> 200 of 50 ms or more."""
        if self.failed or self.successful != self.calls:
            return "failed calls"
        if self.achieved < SUSTAINED * self.offered:
            return f"200s at {self.achieved:.0f}/s (< 97% of {self.offered:g}/s)"
        if self.retransmissions:
            return f"{self.retransmissions} retransmissions"
        if self.pct(0.99) >= P99_LIMIT_MS:
            return f"p99 INVITE->200 {self.pct(0.99):.0f} ms (>= {P99_LIMIT_MS:g} ms)"
        return None

    @property
    def sustained(self) -> bool:
        return self.shortfall is None

    @property
    def saturated(self) -> bool:
        """Past what the server can carry at all (failed calls, or 200s short of the offered rate): the ramp
        stops here; a step only late (retransmissions, p99) is reported and the ramp goes on."""
        return bool(self.failed) or self.successful != self.calls or self.achieved < SUSTAINED * self.offered

    def pct(self, q: float) -> float:
        return percentile(self.rtt_ms, q)


class CpuWatch:
    """CPU over an interval for named processes (``tree``: with descendants), this process, and the rest."""

    def __init__(self, own: dict[str, int], tree: dict[str, int] | None = None) -> None:
        self.own, self.tree = own, tree or {}
        self.started = time.monotonic()
        self.before = self._read()

    def _read(self) -> dict[str, float]:
        out = {name: own_cpu_seconds(pid) for name, pid in self.own.items()}
        out.update({name: cpu_seconds(pid) for name, pid in self.tree.items()})
        out["bench"] = time.process_time()
        out["machine"] = machine_busy_seconds()
        return out

    def stop(self, extra: dict[str, float] | None = None) -> dict[str, float]:
        """Cores used by each since the start; ``extra``: CPU seconds of others (exited children), counted too."""
        wall = time.monotonic() - self.started
        after = self._read()
        cores = {name: (after[name] - self.before[name]) / wall for name in after if name != "machine"}
        cores.update({name: seconds / wall for name, seconds in (extra or {}).items()})
        cores["other"] = max(0.0, (after["machine"] - self.before["machine"]) / wall - sum(cores.values()))
        return cores


async def sipp_step(target: tuple[str, int], numbers: Path, rate: float, seconds: float, workdir: Path,
                    own: dict[str, int], tree: dict[str, int] | None = None) -> Step:
    """One step: ``rate`` calls/s for ``seconds`` at ``target`` (open loop: sipp starts calls on its clock)."""
    workdir.mkdir(parents=True, exist_ok=True)
    calls = max(1, round(rate * seconds))
    command = ["sipp", f"{target[0]}:{target[1]}", "-sf", str(SCENARIOS / "uac.xml"), "-inf", str(numbers),
               "-i", "127.0.0.1", "-p", str(free_udp_port()), "-m", str(calls), "-r", str(rate), "-rp", "1000",
               "-recv_timeout", str(RECV_TIMEOUT_MS), "-timeout", f"{int(seconds + 30)}s", "-timeout_error",
               "-trace_rtt", "-rtt_freq", "1", "-trace_stat", "-stf", str(workdir / "stat.csv"), "-fd", "3600",
               "-trace_err", "-error_file", str(workdir / "errors.log"), "-nostdin"]
    watch = CpuWatch(own, tree)
    process = await asyncio.create_subprocess_exec(*command, cwd=workdir, stdout=subprocess.DEVNULL,
                                                   stderr=subprocess.DEVNULL)
    sipp_cpu = 0.0
    with contextlib.suppress(ProcessLookupError, FileNotFoundError):
        while process.returncode is None:
            sipp_cpu = own_cpu_seconds(process.pid) or sipp_cpu
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 0.25)
    cores = watch.stop({"sipp": sipp_cpu})
    step = Step(rate, calls, cpu=cores)
    read_stat(step, workdir / "stat.csv")
    read_rtt(step, next(workdir.glob("*_rtt.csv"), None))
    with contextlib.suppress(FileNotFoundError):
        text = (workdir / "errors.log").read_text(errors="replace").replace("\t", " ")
        events = [e.strip() for e in re.split(r"(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \d+\.\d+: )", text)]
        step.errors = [e[:240] for e in events if e and "jumping to label" not in e
                       and not e.startswith("The following events")][:6]
    return step


def read_stat(step: Step, path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        rows = list(csv.reader(path.read_text().splitlines(), delimiter=";"))
        if len(rows) >= 2:
            last = dict(zip(rows[0], rows[-1], strict=False))
            step.successful, step.failed = int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])
            step.failures = {name[6:-3]: int(value) for name, value in last.items()
                             if name.startswith("Failed") and name.endswith("(C)") and name != "FailedCall(C)"
                             and value.isdigit() and int(value)}
            step.failures.update({f"{name[:-3]}": int(last[name]) for name in ("Retransmissions(C)",
                                                                              "DeadCallMsgs(C)")
                                  if last.get(name, "0").isdigit() and int(last[name])})
    # calls sipp never started or never ended count as failed too
    missing = step.calls - step.successful - step.failed
    if missing > 0:
        step.failed += missing
        step.failures["NotCompleted"] = missing


def read_rtt(step: Step, path: Path | None) -> None:
    """INVITE -> 200 times, and the rate at which the 200s came (first to last)."""
    if path is None:
        return
    stamps = []
    for line in path.read_text().splitlines()[1:]:
        parts = line.split(";")
        if len(parts) >= 2:
            stamps.append(float(parts[0]))
            step.rtt_ms.append(float(parts[1]))
    if len(stamps) >= 2 and max(stamps) > min(stamps):
        step.achieved = (len(stamps) - 1) / ((max(stamps) - min(stamps)) / 1000)
    elif stamps:
        step.achieved = step.offered


async def ramp(name: str, target: tuple[str, int], numbers: Path, rates: list[float], seconds: float,
               workdir: Path, own: dict[str, int], tree: dict[str, int] | None = None,
               pause: float = 2.0) -> list[Step]:
    """The steps in turn, up to the first one saturated."""
    steps = []
    for rate in rates:
        await asyncio.sleep(pause)  # the previous step's calls end (BYE) and the server settles
        step = await sipp_step(target, numbers, rate, seconds, workdir / f"{name}-{rate:g}", own, tree)
        steps.append(step)
        print(f"  {name} {rate:g}/s: {step.successful}/{step.calls} ok, 200s at {step.achieved:.0f}/s, "
              f"p99 {step.pct(0.99):.0f} ms, failures {step.failures or 0}", flush=True)
        if step.saturated:
            break
    return steps


# -- the reference: Kamailio ------------------------------------------------------------------------------------
def kamailio_config(port: int, uas_port: int) -> str:
    """The stateful relay of docs/reference (registrar + relay; unknown users go to the sipp UAS), without the
    control sockets and the rtpengine module, which the relay does not use."""
    modules = ["tm", "sl", "rr", "pv", "maxfwd", "usrloc", "registrar", "textops", "siputils", "xlog", "sanity",
               "kex"]
    return "\n".join([
        "#!KAMAILIO", "debug=2", "log_stderror=yes", "fork=yes", "children=2", f"listen=udp:127.0.0.1:{port}",
        "tcp_children=1", f"listen=tcp:127.0.0.1:{port}", f'mpath="{KAMAILIO_MODULES}/"',
        *(f'loadmodule "{m}.so"' for m in modules),
        'modparam("tm", "fr_timer", 5000)',
        "request_route {",
        '    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483","Too Many Hops"); exit; }',
        "    if (has_totag()) {",
        "        if (loose_route()) { t_relay(); exit; }",
        '        if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }',
        f'        $du = "sip:127.0.0.1:{uas_port}"; t_relay(); exit;',
        "    }",
        '    if (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; }',
        '    if (is_method("REGISTER")) { if (!save("location")) sl_reply_error(); exit; }',
        '    if (is_method("INVITE|SUBSCRIBE")) record_route();',
        f'    if (!lookup("location")) {{ $du = "sip:127.0.0.1:{uas_port}"; }}',
        "    if (!t_relay()) sl_reply_error();",
        "    exit;",
        "}",
        "",
    ])


@dataclass
class Reference:
    kamailio: subprocess.Popen[bytes]
    uas: subprocess.Popen[bytes]
    port: int
    workdir: Path

    def stop(self) -> None:
        for process in (self.kamailio, self.uas):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)


def start_reference(workdir: Path) -> Reference:
    """Kamailio (-m 256, 2 UDP children, foreground) relaying to a sipp UAS, both on free loopback ports."""
    if shutil.which("kamailio") is None:
        raise SystemExit("kamailio is not installed: run `make bench` (as root it installs Debian's kamailio)")
    workdir.mkdir(parents=True, exist_ok=True)
    port, uas_port = free_udp_port(), free_udp_port()
    config = workdir / "kamailio.cfg"
    config.write_text(kamailio_config(port, uas_port))
    check = subprocess.run(["kamailio", "-c", "-f", str(config)], capture_output=True, text=True)
    if check.returncode:
        raise SystemExit(f"kamailio refused its config:\n{check.stderr[-2000:]}")
    (workdir / "run").mkdir(exist_ok=True)
    with (workdir / "uas.log").open("wb") as log:
        uas = subprocess.Popen(["sipp", "-sf", str(SCENARIOS / "uas.xml"), "-i", "127.0.0.1", "-p", str(uas_port),
                                "-nostdin", "-recv_timeout", str(RECV_TIMEOUT_MS)], cwd=workdir,
                               stdout=log, stderr=subprocess.STDOUT)
    with (workdir / "kamailio.log").open("wb") as log:
        kamailio = subprocess.Popen(["kamailio", "-DD", "-E", "-f", str(config), "-Y", str(workdir / "run"),
                                     "-P", str(workdir / "run" / "kamailio.pid"), "-m", "256", "-M", "16"],
                                    stdout=log, stderr=subprocess.STDOUT)
    reference = Reference(kamailio, uas, port, workdir)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # kamailio forks its children, then listens
        if kamailio.poll() is not None or uas.poll() is not None:
            reference.stop()
            raise SystemExit(f"kamailio or the sipp UAS exited; see {workdir}")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                time.sleep(0.5)  # taken: kamailio listens
                return reference
        time.sleep(0.1)
    reference.stop()
    raise SystemExit(f"kamailio did not listen on {port} within 10 s; see {workdir / 'kamailio.log'}")
