#!/usr/bin/env bash
# Runs every walk-through headless, three times: the notebook (NN-*.ipynb) executed by Jupyter
# (`jupyter nbconvert --execute`) with the .NET Interactive kernel, then by dotnet-repl (the same
# kernel without Jupyter), each writing the executed copy with its charts and tables to
# Notebooks/out/; and the same source as a plain F# script with `dotnet fsi` (charts as HTML files
# in Notebooks/out/). It first checks that the notebooks are in sync with their scripts
# (generate.fsx --check). The notebooks and scripts use the Snn.Core and Snn.Dsl packages of the
# local feed bin/packages (Notebooks/nuget.config).
#
# Needs the README's set-up (scripts/setup.sh: tools restored, Release build and packages, Debian's
# jupyter-nbconvert). The .NET kernel is registered for Jupyter in Notebooks/out/jupyter only
# (JUPYTER_PATH), from the pinned Microsoft.dotnet-interactive tool. The notebooks share the run
# folder Notebooks/runs/quickstart, made by 01; delete it (or pass --fresh) to retrain; 04 makes
# runs/own-baseline and runs/own-pruned (--fresh deletes them too).
#
# Usage: run-all.sh [--fresh] [NAME...]   (NAME: e.g. 02-error-anatomy; default: every walk-through)
#
# Output: one line per check, `notebook <name>: passed` / `notebook <name>: failed (...)`,
# `script <name>: ...`, and last `notebooks: N passed, N failed`. Exit status 0 iff all passed.
set -uo pipefail
cd "$(dirname "$0")"
if [ "${1:-}" = "--fresh" ]; then rm -rf runs/quickstart runs/own-baseline runs/own-pruned; shift; fi
only=("$@")

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
mkdir -p out
passed=0; failed=0
pass() { echo "$1: passed ($2 s)"; passed=$((passed + 1)); }
fail() { echo "$1: failed ($2)"; failed=$((failed + 1)); }

if ! ls ../bin/packages/Snn.Dsl.*.nupkg >/dev/null 2>&1; then
  echo "notebooks: the local feed bin/packages has no Snn.Dsl package: run scripts/setup.sh (or ./test.sh) first" >&2
  echo "notebooks: 0 passed, 1 failed"; exit 1
fi
if ! command -v jupyter-nbconvert >/dev/null; then
  echo "notebooks: jupyter-nbconvert is missing: run scripts/setup.sh as root or 'sudo apt-get install jupyter-nbconvert python3-nbclient'" >&2
  echo "notebooks: 0 passed, 1 failed"; exit 1
fi

# The .NET Interactive kernel for Jupyter, registered here only (not in the user's Jupyter folders).
export JUPYTER_PATH="$PWD/out/jupyter"
mkdir -p out/jupyter/kernels
if dotnet interactive jupyter install --path out/jupyter/kernels > out/jupyter-install.log 2>&1 \
  && [ -f out/jupyter/kernels/.net-fsharp/kernel.json ]; then pass "jupyter kernel registered" 0
else fail "jupyter kernel registered" "see Notebooks/out/jupyter-install.log"; fi

if dotnet fsi generate.fsx --check > out/generate.log 2>&1; then pass "notebooks in sync with scripts" 0
else fail "notebooks in sync with scripts" "$(tail -1 out/generate.log)"; fi

for script in [0-9][0-9]-*.fsx; do
  name=${script%.fsx}
  if [ ${#only[@]} -gt 0 ] && [[ ! " ${only[*]} " == *" $name "* ]]; then continue; fi
  # The notebook, executed by Jupyter with the .NET kernel. nbconvert exits non-zero when a cell
  # fails; the executed notebook is also scanned for error outputs (count-errors.fsx).
  start=$SECONDS
  jupyter-nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=.net-fsharp \
    --ExecutePreprocessor.timeout=1800 --output-dir out --output "$name.jupyter.ipynb" "$name.ipynb" \
    > "out/$name.jupyter.log" 2>&1
  rc=$?
  errors=$(dotnet fsi count-errors.fsx "out/$name.jupyter.ipynb" 2>>"out/$name.jupyter.log" || echo "unreadable")
  if [ "$rc" = 0 ] && [ "$errors" = 0 ]; then pass "jupyter $name" $((SECONDS - start))
  else fail "jupyter $name" "exit code $rc, cells with errors: $errors; see Notebooks/out/$name.jupyter.ipynb and .log"; fi

  # The same walk-through as a plain F# script.
  start=$SECONDS
  if dotnet fsi --quiet --nowarn:3520,3886 --exec "$script" > "out/$name.script.log" 2>&1; then pass "script $name" $((SECONDS - start))
  else fail "script $name" "exit code $?; see Notebooks/out/$name.script.log"; fi
done

echo "notebooks: $passed passed, $failed failed"
[ "$failed" = 0 ]
