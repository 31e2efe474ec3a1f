#!/bin/sh
# The README's main command: installs what it needs, builds, and runs the bulk-unassign demo on the emulator.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
make -s build
exec make -s demo
