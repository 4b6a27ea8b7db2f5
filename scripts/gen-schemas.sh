#!/usr/bin/env bash
# Regenerates schemas/generated/ from schemas/busline.fbs (`npm run gen:schemas`).
# The generated code is never edited by hand; tests/schemas/generated.test.ts
# fails while it differs from what this script writes.
#
# Usage: bash scripts/gen-schemas.sh [--out DIR] [--no-install | --install-only]
#   --out DIR        write into DIR (empty or absent; relative to the repository root) instead of schemas/generated
#   --no-install     never install flatc; exit 3 when it is missing
#   --install-only   install flatc when it is missing, check its version, write nothing
#                    (for CI: regenerating before the staleness test would hide staleness)
# Environment: FLATC=/path/to/flatc to use another binary (it must be $FLATC_VERSION).
#
# Deterministic: one pinned flatc version, a fixed locale, a relative schema
# path, and an output directory emptied first, so the same schema always gives
# the same bytes and no file of a removed table lingers.
set -euo pipefail

FLATC_VERSION=2.0.8
SCHEMA=schemas/busline.fbs
# flatc 2.0.8 with --ts-flat-files writes one self-contained file named after the schema.
GENERATED_FILE=busline_generated.ts

cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
if [ ! -f "$SCHEMA" ]; then
  echo "gen-schemas: cannot find $SCHEMA from $(pwd); run it as scripts/gen-schemas.sh inside the repository" >&2
  exit 2
fi

out=schemas/generated
install=1
install_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --no-install) install=0; shift ;;
    --install-only) install_only=1; shift ;;
    *) echo "gen-schemas: unknown argument '$1'. Usage: gen-schemas.sh [--out DIR] [--no-install | --install-only]" >&2; exit 2 ;;
  esac
done

flatc=${FLATC:-flatc}
if ! command -v "$flatc" >/dev/null 2>&1 && [ "$install" = 1 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "gen-schemas: flatc not found; installing Debian's flatbuffers-compiler" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y flatbuffers-compiler >&2 || { apt-get update >&2 && apt-get install -y flatbuffers-compiler >&2; }
  else
    echo "gen-schemas: flatc not found, and it can only be installed here as root with apt-get." >&2
  fi
fi
if ! command -v "$flatc" >/dev/null 2>&1; then
  echo "gen-schemas: flatc (the FlatBuffers compiler, version $FLATC_VERSION) is missing." >&2
  echo "  Run 'npm run gen:schemas' as root on Debian/Ubuntu (it runs apt-get install flatbuffers-compiler)," >&2
  echo "  or install flatc $FLATC_VERSION yourself and put it on PATH or in FLATC." >&2
  exit 3
fi

version=$("$flatc" --version | awk '{print $NF}')
if [ "$version" != "$FLATC_VERSION" ]; then
  echo "gen-schemas: $flatc is version $version, but schemas/generated/ is made with flatc $FLATC_VERSION" >&2
  echo "  (Debian's flatbuffers-compiler); other versions write different code. Install $FLATC_VERSION or point FLATC at it." >&2
  exit 4
fi
if [ "$install_only" = 1 ]; then
  echo "gen-schemas: flatc $version is installed" >&2
  exit 0
fi

if [ "$out" != schemas/generated ] && [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
  echo "gen-schemas: --out $out is not empty" >&2
  exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
LC_ALL=C "$flatc" --ts --ts-flat-files -o "$tmp" "$SCHEMA"
if [ ! -f "$tmp/$GENERATED_FILE" ] || [ "$(ls -A "$tmp")" != "$GENERATED_FILE" ]; then
  echo "gen-schemas: expected flatc to write exactly $GENERATED_FILE, it wrote:" >&2
  ls -A "$tmp" >&2
  exit 5
fi

rm -rf "$out"
mkdir -p "$out"
cp "$tmp/$GENERATED_FILE" "$out/$GENERATED_FILE"
chmod 644 "$out/$GENERATED_FILE"
echo "gen-schemas: wrote $out/$GENERATED_FILE with flatc $version" >&2
