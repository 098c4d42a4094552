#!/usr/bin/env bash
# The whole test suite: set the machine up, build, then run unit and e2e tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh
exec npm test
