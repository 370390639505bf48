#!/usr/bin/env bash
# Build Jaeger v2 once into a cache outside the repository and print the binary's path.
# Reused on later runs; set AGENTINSIGHT_JAEGER_BIN to use a binary built elsewhere.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(awk '/^require github.com\/jaegertracing\/jaeger/ {print $3}' "$here/go.mod")"
cache="${AGENTINSIGHT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agentinsight}"
bin="$cache/jaeger-$version/jaeger"
if [[ -x "$bin" ]]; then echo "$bin"; exit 0; fi
mkdir -p "$(dirname "$bin")"
cd "$here"
[[ -f go.sum ]] || GOFLAGS=-mod=mod go mod tidy >&2
# go.sum is committed, so a fresh machine only downloads modules; a per-process temp name lets two
# concurrent builds finish without clobbering each other (the last rename wins, both are equal).
echo "building Jaeger $version into $bin (first time only; takes minutes)" >&2
tmp="$bin.tmp.$$"
trap 'rm -f "$tmp"' EXIT
GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$tmp" github.com/jaegertracing/jaeger/cmd/jaeger >&2
mv "$tmp" "$bin"
echo "$bin"
