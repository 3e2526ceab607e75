#!/usr/bin/env bash
# Make a local stand-in for the official python:3.11-slim image when no container registry can be reached:
# a minimal Debian bookworm (whose python3 is 3.11) made by debootstrap from the mirror this machine's apt
# uses, imported into podman. The root file system is cached as a tarball outside the clone, so a fresh
# clone imports it in seconds instead of bootstrapping again.
#
#   docker/local-base-image.sh [IMAGE]        prints the image name (default localhost/beat-selection-base:bookworm-<recipe>)
#
# Environment: BASE_IMAGE_CACHE (folder of the cached tarball, default ~/.cache/beat_selection/images),
# DEBIAN_MIRROR (default: read from apt's configuration), PODMAN (default podman). Needs root (debootstrap).
set -euo pipefail

suite=bookworm
# python3-venv gives the Dockerfile its venv, with pip inside it (Debian's python3-pip would add 25 MB that
# the venv never uses); soundfile, soxr, onnxruntime and numba bring their native libraries inside their
# wheels, so nothing else is needed (the official slim image has no more either).
packages=python3,python3-venv,ca-certificates
# What the root file system leaves out: package lists, documentation, translations of messages, caches.
trimmed=(var/lib/apt/lists var/cache/apt usr/share/doc usr/share/man usr/share/info usr/share/locale)
# The image and its cached tarball are named by what went into them: changing either makes a new one.
recipe=$(printf '%s ' "$suite" "$packages" "${trimmed[@]}" | sha1sum | cut -c1-8)
image=${1:-localhost/beat-selection-base:$suite-$recipe}
cache=${BASE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/beat_selection/images}
tarball="$cache/debian-$suite-python3-minbase-$recipe.tar"
podman=${PODMAN:-podman}

if "$podman" image exists "$image"; then
  echo "$image"
  exit 0
fi

# The Debian mirror apt already uses here (deb822 .sources or one-line sources.list alike), and its proxy.
mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  apt-cache policy | awk -v s="$suite/main" '$3 == s { print $2; exit }'
}

if [ ! -s "$tarball" ]; then
  url=$(mirror)
  if [ -z "$url" ]; then
    echo "no $suite/main source in apt's configuration: run apt-get update, or set DEBIAN_MIRROR" >&2
    exit 1
  fi
  proxy=""
  eval "$(apt-config shell proxy Acquire::http::Proxy)"
  if [ -n "$proxy" ]; then
    export http_proxy="$proxy"
  fi
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  echo "bootstrapping Debian $suite from $url (a few minutes, once)" >&2
  debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$url" >&2
  # The folders stay, emptied: apt-get update brings the package lists back.
  for folder in "${trimmed[@]}"; do
    if [ -d "$root/$folder" ]; then
      find "$root/$folder" -mindepth 1 -type f -delete
    fi
  done
  mkdir -p "$cache"
  tar --numeric-owner -C "$root" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
fi

"$podman" import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  "$tarball" "$image" >&2
echo "$image"
