#!/usr/bin/env bash
# Runs every walk-through headless, twice: the notebook (NN-*.ipynb) in a .NET Interactive kernel
# with dotnet-repl, writing the executed copy with its charts and tables to Notebooks/out/, and the
# same source as a plain F# script with `dotnet fsi` (charts as HTML files in Notebooks/out/).
# It first checks that the notebooks are in sync with their scripts (generate.fsx --check).
#
# Needs the README's set-up (scripts/setup.sh: tools restored, Release build). The notebooks share
# the run folder Notebooks/runs/quickstart, made by 01; delete it (or pass --fresh) to retrain.
#
# Usage: run-all.sh [--fresh] [NAME...]   (NAME: e.g. 02-error-anatomy; default: every walk-through)
#
# Output: one line per check, `notebook <name>: passed` / `notebook <name>: failed (...)`,
# `script <name>: ...`, and last `notebooks: N passed, N failed`. Exit status 0 iff all passed.
set -uo pipefail
cd "$(dirname "$0")"
if [ "${1:-}" = "--fresh" ]; then rm -rf runs/quickstart; shift; fi
only=("$@")

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
mkdir -p out
passed=0; failed=0
pass() { echo "$1: passed ($2 s)"; passed=$((passed + 1)); }
fail() { echo "$1: failed ($2)"; failed=$((failed + 1)); }

if [ ! -f ../Snn.Cli/bin/Release/net10.0/Snn.Core.dll ]; then
  echo "notebooks: the Release build is missing: run scripts/setup.sh (or ./test.sh) first" >&2
  echo "notebooks: 0 passed, 1 failed"; exit 1
fi

if dotnet fsi generate.fsx --check > out/generate.log 2>&1; then pass "notebooks in sync with scripts" 0
else fail "notebooks in sync with scripts" "$(tail -1 out/generate.log)"; fi

for script in [0-9][0-9]-*.fsx; do
  name=${script%.fsx}
  if [ ${#only[@]} -gt 0 ] && [[ ! " ${only[*]} " == *" $name "* ]]; then continue; fi
  # The notebook, in a .NET Interactive kernel. dotnet-repl exits non-zero when a cell fails; the
  # executed notebook is also scanned for error outputs so that no failing cell can slip through.
  start=$SECONDS
  dotnet repl --run "$name.ipynb" --exit-after-run --output-path "out/$name.ipynb" > "out/$name.notebook.log" 2>&1
  rc=$?
  errors=$(dotnet fsi count-errors.fsx "out/$name.ipynb" 2>>"out/$name.notebook.log" || echo "unreadable")
  if [ "$rc" = 0 ] && [ "$errors" = 0 ]; then pass "notebook $name" $((SECONDS - start))
  else fail "notebook $name" "exit code $rc, cells with errors: $errors; see Notebooks/out/$name.ipynb"; fi

  # The same walk-through as a plain F# script.
  start=$SECONDS
  if dotnet fsi --quiet --nowarn:3520,3886 --exec "$script" > "out/$name.script.log" 2>&1; then pass "script $name" $((SECONDS - start))
  else fail "script $name" "exit code $?; see Notebooks/out/$name.script.log"; fi
done

echo "notebooks: $passed passed, $failed failed"
[ "$failed" = 0 ]
