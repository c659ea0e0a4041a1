#!/usr/bin/env bash
# Debian packages the project needs: python3-venv to make .venv, PostgreSQL for the store's tests, Chromium for
# the browser tests (driven by playwright from the venv; no browser is ever downloaded).
# rtpengine (rtpengine-daemon) for the media gateway's tests and the demo, which run their own daemon.
# sipp (sip-tester) for the SIP stack's interop test; baresip, a real phone, for the phone side's interop tests.
# janus (Janus gateway, its AudioBridge plugin) mixes meetings' audio; callbridge runs its own instance.
# espeak-ng, opus-tools and sox make spoken prompts (.opus files the mixer plays; G.711 WAVs).
# Node.js (20 or later) and npm for the JavaScript clients' interop tests (tests/interop/node, node-acs).
# Installs only what is missing, and only as root; otherwise says what to install.
set -euo pipefail

missing=()
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v rtpengine >/dev/null || missing+=(rtpengine-daemon)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v sipp >/dev/null || missing+=(sip-tester)
command -v baresip >/dev/null || missing+=(baresip)
command -v janus >/dev/null || missing+=(janus)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v opusenc >/dev/null || missing+=(opus-tools)
command -v sox >/dev/null || missing+=(sox)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: please install these Debian packages: ${missing[*]}" >&2
  exit 0
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packaged cluster is not used: tests start their own throwaway server on a loopback port.
command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | while read -r ver name _; do
  pg_ctlcluster "$ver" "$name" stop 2>/dev/null || true
done
# Nor is the packaged rtpengine service: tests and the demo start their own daemon with their own config.
{ command -v systemctl >/dev/null && systemctl disable --now rtpengine-daemon 2>/dev/null; } || true
# Nor the packaged janus service: callbridge starts its own Janus with a generated config.
{ command -v systemctl >/dev/null && systemctl disable --now janus 2>/dev/null; } || true
exit 0
