#!/usr/bin/env bash
# Sets up what is missing, then runs the main job (arguments go to `snn`; default: `snn run`).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
exec dotnet Snn.Cli/bin/Release/net10.0/snn.dll "${@:-run}"
