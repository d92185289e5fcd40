#!/usr/bin/env bash
# Makes sure Debian's Mosquitto broker is installed for the interop tests and benchmarks
# (they start their own instance on a free loopback port; the packaged service is not started).
set -euo pipefail
BIN=/usr/sbin/mosquitto
if [ -x "$BIN" ]; then echo "mosquitto: present ($("$BIN" -h 2>/dev/null | head -1))"; exit 0; fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d 101 keeps the package from starting a system broker.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends mosquitto
[ -x "$BIN" ] || { echo "mosquitto: $BIN still missing after apt-get install" >&2; exit 1; }
echo "mosquitto: installed"
