#!/usr/bin/env bash
# Makes TorchSharp 0.107's libLibTorchSharp.so load on Debian 12 (libstdc++ up to GLIBCXX_3.4.30).
#
# Why: the library was linked against GCC 13's libstdc++ and so records a need for GLIBCXX_3.4.32, for
# one symbol only, std::ios_base_library_init() (GCC 13's <iostream> references it to force stream
# initialisation). The reference carries no relocation, so nothing ever binds it: the loader only
# refuses the library because the version need is missing. Marking that one version need WEAK
# (VER_FLG_WEAK in .gnu.version_r) makes ld.so accept its absence; patchelf --clear-symbol-version
# additionally drops the version from the symbol so that, should anything bind it, it binds by name.
#
# Usage: fix-torchsharp.sh [DIR_OR_FILE...]   (default: bench/Peers/TorchPeer/bin)
# Idempotent: an already patched file is left as it is. Patches copies in build outputs only, never the
# NuGet cache (a rebuild may copy the original back: run this after every build; bench/compare does).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("$here/TorchPeer/bin")

if ! command -v patchelf >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get install -y patchelf >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y patchelf >/dev/null 2>&1; }) \
      || echo "fix-torchsharp: patchelf not installable; marking the version need weak is enough on its own" >&2
  fi
fi
command -v python3 >/dev/null 2>&1 || { echo "fix-torchsharp: python3 is required" >&2; exit 2; }

mapfile -t libs < <(for t in "${targets[@]}"; do
  if [ -f "$t" ]; then echo "$t"; elif [ -d "$t" ]; then find "$t" -name libLibTorchSharp.so; fi
done)
[ ${#libs[@]} -eq 0 ] && { echo "fix-torchsharp: no libLibTorchSharp.so under ${targets[*]} (build TorchPeer first)" >&2; exit 1; }

for lib in "${libs[@]}"; do
  if command -v patchelf >/dev/null 2>&1 && objdump -T "$lib" 2>/dev/null | grep 'GLIBCXX_3.4.32.*_ZSt21ios_base_library_initv' >/dev/null; then
    patchelf --clear-symbol-version _ZSt21ios_base_library_initv "$lib"
  fi
  python3 "$here/elf_weak_verneed.py" "$lib" GLIBCXX_3.4.32
done
