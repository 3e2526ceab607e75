#!/bin/sh
# The image's entry point: run the command (uvicorn by default) with numba's cache where it can be written.
# numba only uses a cache folder it may write to; on a read-only file system (docker run --read-only) the
# image's warmed cache is copied to /tmp first (a tmpfs there), so that no worker compiles at start.
set -eu
cache=${NUMBA_CACHE_DIR:-}
if [ -n "$cache" ] && [ -d "$cache" ] && ! [ -w "$cache" ] && [ -w /tmp ]; then
  mkdir -p /tmp/numba-cache
  cp -R "$cache/." /tmp/numba-cache/
  export NUMBA_CACHE_DIR=/tmp/numba-cache
fi
exec "$@"
