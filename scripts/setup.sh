#!/usr/bin/env bash
# Sets up whatever is missing on a fresh machine, idempotently:
#   .NET tools (paket, fantomas, dotnet-repl, dotnet-interactive), paket packages, the Fashion-MNIST
#   and Jupyter (nbconvert, for the notebooks) Debian packages (when absent and running as root), and
#   a Release build of Research.sln, which also packs Snn.Core and Snn.Dsl into bin/packages.
# The TorchSharp native fix for old libstdc++ is applied by Snn.Core itself at first use.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK is required (dotnet not on PATH)" >&2; exit 1; }

# paket.dependencies reads its feed from NUGET_FEED; take the first enabled NuGet source.
if [ -z "${NUGET_FEED:-}" ]; then
  NUGET_FEED=$(dotnet nuget list source --format short 2>/dev/null | awk '$1 ~ /^E/ {print $2; exit}')
  export NUGET_FEED
fi
[ -n "${NUGET_FEED:-}" ] || { echo "setup: no enabled NuGet source (dotnet nuget list source); set NUGET_FEED" >&2; exit 1; }

dotnet tool restore >/dev/null
dotnet paket restore >/dev/null

if [ ! -d /usr/share/datasets/fashion-mnist ] && [ -z "${SNN_DATA:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian package dataset-fashion-mnist"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
  else
    echo "setup: Fashion-MNIST not found; run 'sudo apt-get install dataset-fashion-mnist' or set SNN_DATA" >&2
  fi
fi

if ! command -v jupyter-nbconvert >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages jupyter-nbconvert python3-nbclient (the notebooks' front end)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jupyter-nbconvert python3-nbclient python3-jupyter-client >/dev/null
  else
    echo "setup: jupyter-nbconvert not found (needed by Notebooks/run-all.sh); run 'sudo apt-get install jupyter-nbconvert python3-nbclient'" >&2
  fi
fi

dotnet build Research.sln -c Release -nologo -clp:ErrorsOnly -v:q
