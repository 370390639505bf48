#!/usr/bin/env bash
# Install and build what the test suite's real servers need, once; `make test` runs this first.
#
#   tools/setup-tests.sh      (as root, or a user with sudo; a no-op when everything is there)
#
# Debian packages of the servers the integration tests start on loopback (prometheus + promtool,
# prometheus-alertmanager + amtool, victoria-metrics), chromium (the report test drives it
# headless) and python3-venv; daemons those packages may start are stopped; Jaeger v2 is built
# once from its Go module into ~/.cache/agentinsight (about 7 minutes the first time; needs Go).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$(date +%s)
say() { echo "setup: $* ($(( $(date +%s) - start ))s)" >&2; }
SUDO=""
if [[ $EUID -ne 0 ]]; then SUDO="sudo"; fi

# -- Debian packages --------------------------------------------------------------------------
need=()
for pair in prometheus:prometheus promtool:prometheus \
            prometheus-alertmanager:prometheus-alertmanager amtool:prometheus-alertmanager \
            victoria-metrics:victoria-metrics chromium:chromium make:make; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
done
# `make test` creates its virtual environment with python3 -m venv (Debian splits it out)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if ((${#need[@]})); then
    # Keep the packages' init scripts from starting daemons on the default ports: policy-rc.d
    # answering 101 is Debian's way to say "do not start services" (containers, CI).
    made_policy=""
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2046
    $SUDO apt-get install -y -qq --no-install-recommends \
        $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
    if [[ -n $made_policy ]]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
    say "installed: $(printf '%s ' "${need[@]}" | tr ' ' '\n' | sort -u | tr '\n' ' ')"
fi

# Daemons the packages may have started anyway (no systemd here: look at the process table).
# The tests' own servers run with 127.0.0.1 listen addresses and agentinsight-* temp dirs;
# those are left alone, so running this next to a test session is safe.
for svc in prometheus prometheus-alertmanager victoria-metrics prometheus-node-exporter; do
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
while read -r pid args; do
    case "$args" in
        *agentinsight-*|*127.0.0.1:*) continue ;;
    esac
    echo "setup: stopping daemon $pid: $args"
    $SUDO kill "$pid" 2>/dev/null || true
done < <(ps -eo pid=,args= | awk '$2 ~ /^\/usr\/(s?bin)\/(prometheus|prometheus-alertmanager|victoria-metrics|prometheus-node-exporter)$/')

# -- Jaeger v2, built once from its Go module into a cache outside the repository -------------
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
    export PATH="$PATH:/usr/local/go/bin"
fi
if command -v go >/dev/null 2>&1; then
    say "jaeger: $(tools/jaeger/build.sh)"
else
    say "jaeger: Go is not installed, so Jaeger cannot be built; its tests will say so"
fi

