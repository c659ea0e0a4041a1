"""The browser SDK has the shapes of ACS's `@azure/communication-calling` 2.x, checked by the TypeScript compiler: a
program written against Microsoft's published declarations (the seed's use-case snippets and a small soft phone that
places, receives, holds and ends calls and joins a meeting, tests/interop/node-types/app) compiles with `tsc` against
them and, with only the package names resolved elsewhere (tsconfig `paths`), against callbridge's /sdk/calling.d.ts.

Beside the compiler: every value the declarations promise is what the module exports, and the identifier helpers
give what communication-common's own give on the same inputs (Node runs both).

The checks that the two compilations are real ones: code that treats `startCall` as a promise fails against both;
ACS's page's incoming-call snippet (`args.teamsIncomingCall`) fails against both with the same error; and a call to
something callbridge does not have (video) compiles against ACS's declarations and fails against callbridge's.
`make test-deps` installs the packages (npm ci in tests/interop/node-types)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Demo

NODE_DIR = Path(__file__).parent / "node-types"
TSC = NODE_DIR / "node_modules" / "typescript" / "bin" / "tsc"
ACS_TYPES = NODE_DIR / "node_modules" / "@azure" / "communication-calling" / "types" / "communication-calling.d.ts"
SDK_MODULE = Path(__file__).parents[2] / "src" / "callbridge" / "web" / "sdk" / "calling.js"
CALLBRIDGE_TYPES = SDK_MODULE.with_suffix(".d.ts")
CONFIGS = {"acs": NODE_DIR / "tsconfig.json", "callbridge": NODE_DIR / "tsconfig.callbridge.json"}


def tsc(against: str, files: list[Path], tmp_path: Path, *extra: str) -> tuple[int, str]:
    """`tsc --noEmit` of `files` with the project's settings for `against` (its `paths`, if any, included)."""
    node = shutil.which("node")
    assert node, "node is not installed: `make install` installs it"
    assert TSC.is_file() and ACS_TYPES.is_file(), "the TypeScript compiler or ACS's calling SDK is missing: run " \
        "`make test-deps` (npm ci in tests/interop/node-types)"
    config = tmp_path / f"tsconfig.{against}.json"
    config.write_text(json.dumps({"extends": str(CONFIGS[against]), "files": [str(f) for f in files]}))
    done = subprocess.run([node, str(TSC), "-p", str(config), "--noEmit", "--pretty", "false", *extra],
                          capture_output=True, text=True, cwd=NODE_DIR, timeout=120, check=False)
    return done.returncode, done.stdout + done.stderr


def compile_to_js(source: Path, out_dir: Path) -> Path:
    """`source` compiled by tsc against ACS's declarations into an ES module in `out_dir` (its imports unchanged:
    `@azure/communication-calling` and `@azure/communication-common`, for an import map to resolve)."""
    code, output = tsc("acs", [source], out_dir, "--noEmit", "false", "--outDir", str(out_dir))
    assert code == 0, output
    return out_dir / source.with_suffix(".js").name


def errors(output: str) -> list[str]:
    """`file(line,col): error TSnnnn: ...` lines, without the folder (it differs between the two runs)."""
    return [re.sub(r"^.*/", "", line) for line in output.splitlines() if ": error TS" in line]


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(source)
    return path


@pytest.mark.parametrize("against", ["acs", "callbridge"])
def test_the_seed_snippets_and_the_soft_phone_compile(against: str, tmp_path: Path) -> None:
    app = NODE_DIR / "app"
    code, output = tsc(against, [app / "seed_snippets.ts", app / "softphone.ts"], tmp_path)
    assert code == 0, output


def test_each_compilation_reads_its_own_declarations(tmp_path: Path) -> None:
    probe = write(tmp_path, "probe.ts", "import { CallClient } from '@azure/communication-calling';\n"
                                       "export const client = new CallClient();\n")
    for against, declarations in (("acs", ACS_TYPES), ("callbridge", CALLBRIDGE_TYPES)):
        code, output = tsc(against, [probe], tmp_path, "--listFiles")
        calling = [f for f in output.splitlines() if f.endswith(("communication-calling.d.ts", "sdk/calling.d.ts"))]
        assert code == 0 and calling == [str(declarations)], (against, output)


@pytest.mark.parametrize("against", ["acs", "callbridge"])
def test_startcall_is_not_a_promise_in_either(against: str, tmp_path: Path) -> None:
    source = write(tmp_path, "awaited.ts", """import { TeamsCallAgent } from '@azure/communication-calling';
export function place(agent: TeamsCallAgent): void {
  agent.startCall([{ microsoftTeamsUserId: 'x' }], { threadId: 't' }).then(() => undefined);
}
""")
    code, output = tsc(against, [source], tmp_path)
    assert code != 0 and errors(output) == [
        "awaited.ts(3,71): error TS2339: Property 'then' does not exist on type 'TeamsCall'."], output


def test_the_pages_incoming_call_snippet_fails_the_same_way_against_both(tmp_path: Path) -> None:
    snippet = NODE_DIR / "app" / "seed_snippet_as_published.ts"
    seen = {against: tsc(against, [snippet], tmp_path) for against in CONFIGS}
    assert seen["acs"][0] != 0 and seen["callbridge"][0] != 0
    assert errors(seen["acs"][1]) == errors(seen["callbridge"][1]) != []
    assert "TS2769" in seen["acs"][1] and "'teamsIncomingCall' is missing" in seen["acs"][1], seen["acs"][1]


def test_what_callbridge_lacks_compiles_only_against_acs(tmp_path: Path) -> None:
    source = write(tmp_path, "video.ts", """import { TeamsCall, LocalVideoStream } from '@azure/communication-calling';
export async function video(call: TeamsCall, stream: LocalVideoStream): Promise<void> {
  await call.startVideo(stream);
}
""")
    assert tsc("acs", [source], tmp_path)[0] == 0
    code, output = tsc("callbridge", [source], tmp_path)
    assert code != 0 and "'LocalVideoStream'" in output and "'startVideo' does not exist" in output, output


def test_the_declarations_are_served_beside_the_sdk(demo: Demo) -> None:
    with demo.client() as c:
        served = c.get("/sdk/calling.d.ts")
        assert served.status_code == 200 and served.content == CALLBRIDGE_TYPES.read_bytes()
        assert served.headers["content-type"] == "application/typescript; charset=utf-8"
        assert served.headers["cache-control"] == "no-cache"
        assert c.get("/sdk/calling.d.ts", headers={"If-None-Match": served.headers["etag"]}).status_code == 304


def run_node(*args: str) -> str:
    node = shutil.which("node")
    assert node, "node is not installed: `make install` installs it"
    done = subprocess.run([node, *args], capture_output=True, text=True, cwd=NODE_DIR, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_value_the_declarations_promise_is_exported_and_nothing_else() -> None:
    exported = json.loads(run_node("--input-type=module", "-e",
                                   f"const m = await import({json.dumps(str(SDK_MODULE))});"
                                   "console.log(JSON.stringify(Object.keys(m).sort()));"))
    declared = sorted(re.findall(r"^export declare (?:const|class|enum) (\w+)", CALLBRIDGE_TYPES.read_text(), re.M))
    assert exported == declared


def test_the_identifier_helpers_give_what_communication_commons_do() -> None:
    """The same raw ids and identifiers through both (callbridge's identifiers also carry `rawId`)."""
    cases = [json.loads(line) for line in run_node("identifiers_parity.mjs", str(SDK_MODULE)).splitlines()]
    assert len(cases) == 40
    different = [case for case in cases if case["callbridge"] != case["common"] or not case["rawIdKept"]]
    assert different == []
