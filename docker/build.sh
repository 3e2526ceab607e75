#!/usr/bin/env bash
# Build the API image from docker/Dockerfile with podman (or docker), with what this machine needs:
#   - a base image: python:3.11-slim when it is present or can be pulled, else a local Debian bookworm made
#     by docker/local-base-image.sh (no container registry reachable);
#   - the certificate authorities pip trusts here, passed as the `ca` build secret, and pip's index when one
#     is configured, passed as the PIP_INDEX_URL build argument. Both are read from this machine's pip
#     configuration when the build runs; nothing of the machine is written into the image's recipe.
#
#   docker/build.sh [IMAGE]      default beat-selection:latest; BASE_IMAGE=... skips the choice of base
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:-beat-selection:latest}
engine=${CONTAINER_ENGINE:-podman}
official=docker.io/library/python:3.11-slim

base=${BASE_IMAGE:-}
if [ -z "$base" ]; then
  if "$engine" image inspect "$official" >/dev/null 2>&1 || timeout 120 "$engine" pull -q "$official" >/dev/null 2>&1; then
    base=$official
  else
    echo "python:3.11-slim cannot be pulled: using a local Debian bookworm base" >&2
    base=$(PODMAN="$engine" docker/local-base-image.sh)
  fi
fi

pip_setting() {  # the first of these pip settings that is set, from pip's own configuration and environment
  local name value
  for name in "$@"; do
    value=$(python3 -m pip config get "$name" 2>/dev/null || true)
    if [ -n "$value" ]; then
      echo "$value"
      return
    fi
  done
}
args=(--build-arg "BASE_IMAGE=$base")
ca=${BUILD_CA_BUNDLE:-${PIP_CERT:-$(pip_setting global.cert install.cert)}}
ca=${ca:-${REQUESTS_CA_BUNDLE:-${SSL_CERT_FILE:-}}}
if [ -n "$ca" ] && [ -s "$ca" ]; then
  args+=(--secret "id=ca,src=$ca")
fi
index=${PIP_INDEX_URL:-$(pip_setting global.index-url install.index-url)}
if [[ "$index" == http* ]]; then  # a file:// index of this machine is not visible inside the build
  args+=(--build-arg "PIP_INDEX_URL=$index")
fi
if [ "$engine" = podman ]; then
  args+=(--format docker --network host)  # docker format keeps the HEALTHCHECK
fi

echo "building $image from $base" >&2
"$engine" build "${args[@]}" -f docker/Dockerfile -t "$image" .
