#!/usr/bin/env bash
# Runs `paket install` / `paket update` with the feed from the environment and keeps the feed
# address out of paket.lock (it records %NUGET_FEED% instead).
set -euo pipefail
cd "$(dirname "$0")/.."
export NUGET_FEED=${NUGET_FEED:-$(dotnet nuget list source --format short | awk '$1 ~ /^E/ {print $2; exit}')}
dotnet paket "${@:-install}"
sed -i 's|^  remote: .*|  remote: %NUGET_FEED%|' paket.lock
