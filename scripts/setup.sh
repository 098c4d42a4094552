#!/usr/bin/env bash
# Prepares a Debian 12 machine to run berth from this checkout: Debian packages, npm packages, build.
# Idempotent and quick when everything is already there; safe with CI=true and no stdin.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export DEBIAN_FRONTEND=noninteractive
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup.sh: run as root (or install sudo)" >&2; exit 1; }
  SUDO=(sudo -n)
fi

# runc + conmon run containers; busybox-static makes the test image; CNI plugins, iptables and iproute2
# are the networking tools; tini is the --init binary; jq is for humans and scripts; curl, procps (ps for
# `top`), util-linux (unshare, nsenter) and python3 (the pty helper of the interactive tests) serve tests and top;
# skopeo and docker-registry (distribution) are the registry peers of the distribution tests (openssl, which
# the TLS tests use, comes with ca-certificates); make and g++ (with python3) build berth's native addon
# (native/seqpacket, conmon's attach socket) and zstd-napi with npm's node-gyp.
PACKAGES=(runc conmon busybox-static containernetworking-plugins iptables tini iproute2 jq ca-certificates curl procps util-linux python3 skopeo docker-registry make g++)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq </dev/null
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi

# Node 20+ is required (Debian 12's own nodejs is 18): say so plainly rather than fail later.
if ! command -v node >/dev/null || ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)'; then
  echo "setup.sh: Node.js >= 20 is required (found: $(node -v 2>/dev/null || echo none))" >&2
  exit 1
fi

if ! command -v docker >/dev/null; then
  # The docker CLI is only a test client here (the e2e suite drives berthd with it); berth never needs dockerd.
  echo "setup.sh: warning: the docker CLI is not on PATH; test/e2e/docker-cli.test.ts will fail" >&2
fi

# npm ci when node_modules is absent or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund </dev/null
fi

npm run --silent build </dev/null
