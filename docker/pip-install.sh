#!/bin/sh
# pip install inside the image build, with what the build was given: a CA bundle as the BuildKit secret
# `ca` (for an index behind a proxy with its own certificate authority) and the PIP_INDEX_URL /
# PIP_EXTRA_INDEX_URL build arguments. An argument left empty means pip's default, not an empty index.
set -eu
if [ -s /run/secrets/ca ]; then
  export PIP_CERT=/run/secrets/ca SSL_CERT_FILE=/run/secrets/ca
fi
if [ -z "${PIP_INDEX_URL:-}" ]; then unset PIP_INDEX_URL; fi
if [ -z "${PIP_EXTRA_INDEX_URL:-}" ]; then unset PIP_EXTRA_INDEX_URL; fi
exec python -m pip install --no-cache-dir --disable-pip-version-check --no-compile "$@"
