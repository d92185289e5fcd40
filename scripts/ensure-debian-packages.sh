#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real: Mosquitto (broker, clients,
# mosquitto_passwd), openssl (the TLS interop test makes its own CA) and nats-server (the
# fleet test's 3-node MQTT-over-JetStream cluster), and make + a C compiler to build the XS
# engine (xsnap) from the @agoric/xsnap sources, and chromium (the dashboard tests drive it headless
# through puppeteer-core). Skips apt entirely
# when they are already there. The packaged broker service is never started.
set -euo pipefail
PACKAGES=(mosquitto mosquitto-clients openssl nats-server make gcc libc6-dev chromium)
BINARIES=(/usr/sbin/mosquitto /usr/bin/mosquitto_sub /usr/bin/mosquitto_pub /usr/bin/mosquitto_passwd /usr/bin/openssl /usr/sbin/nats-server /usr/bin/make /usr/bin/cc /usr/bin/chromium)

missing=0
for b in "${BINARIES[@]}"; do [ -x "$b" ] || missing=1; done
if [ "$missing" -eq 0 ]; then echo "debian packages: already installed (${PACKAGES[*]})"; exit 0; fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d 101: do not start the packaged brokers as services; tests start their own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
for b in "${BINARIES[@]}"; do [ -x "$b" ] || { echo "debian packages: $b still missing" >&2; exit 1; }; done
echo "debian packages: installed ${PACKAGES[*]}"
