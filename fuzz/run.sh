#!/usr/bin/env bash
# Builds the SharpFuzz-instrumented harness and runs one AFL++ campaign, bounded in time and executions.
#   fuzz/run.sh TARGET [SECONDS] [MAX_EXECS]     TARGET: safetensors | model | onnx | keras | csv | ts | serve
# Findings land in fuzz/findings/TARGET/default/{crashes,hangs}; fuzz/findings/TARGET/default/fuzzer_stats
# holds execs_done. Needs afl++ (Debian: apt-get install afl++) and the sharpfuzz tool
# (dotnet tool install --global SharpFuzz.CommandLine).
set -euo pipefail
export PATH="$PATH:$HOME/.dotnet/tools"
cd "$(dirname "$0")"
target=${1:?target: safetensors | model | onnx | keras | csv | ts | serve}
seconds=${2:-1800}
execs=${3:-1000000}
out=build
if [[ ! -f $out/.instrumented ]]; then
  rm -rf "$out"
  dotnet publish Gyre.Fuzz -c Release -o "$out" -v quiet
  # Instrument Gyre and the parsers it leans on (Sep for CSV, Google.Protobuf for ONNX), not the runtime.
  for dll in Gyre.dll Gyre.Serve.dll Sep.dll Google.Protobuf.dll; do sharpfuzz "$out/$dll"; done
  touch "$out/.instrumented"
fi
mkdir -p findings
# -m none: the .NET runtime reserves far more address space than it uses; the GC heap limit below is the
# real bound, so any allocation past 1 GiB throws OutOfMemoryException and shows up as a crash.
export DOTNET_GCHeapHardLimit=0x40000000 AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
exec afl-fuzz -i "corpus/$target" -o "findings/$target" -x "dict/$target.dict" -t 2000 -m none \
  -V "$seconds" -E "$execs" -- dotnet "$out/Gyre.Fuzz.dll" "$target"
