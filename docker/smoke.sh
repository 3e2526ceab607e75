#!/usr/bin/env bash
# Smoke test of the API image: check its size against the budget, run it, wait for /ready, recommend beats
# for data/sample.wav (expects Afro among the three most probable styles) and play the first one (an MP3 preview), send a file that is
# not audio (expects a JSON 415 or 422), try to add a beat to the image's read-only catalogue (expects a
# JSON 409), check the HEALTHCHECK; then again with the container's file system read-only. The container
# is stopped and removed whatever happens.
#
#   docker/smoke.sh [IMAGE]         default beat-selection:latest; CONTAINER_ENGINE=docker to use docker
#   MAX_IMAGE_MB=600                the size budget, uncompressed, as `podman images` reports it
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:-beat-selection:latest}
engine=${CONTAINER_ENGINE:-podman}
ready_within=${READY_WITHIN:-120}
max_image_mb=${MAX_IMAGE_MB:-600}
key=smoke-test-key
name=""
passed=0
work=$(mktemp -d)

cleanup() {
  if [ -n "$name" ]; then
    "$engine" rm -f "$name" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  echo "smoke: $passed passed, 1 failed"
  if [ -n "$name" ]; then
    echo "--- container log (last 40 lines) ---" >&2
    "$engine" logs --tail 40 "$name" >&2 || true
  fi
  exit 1
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# post FIELD=VALUE... URL: prints the HTTP status; the body is in $work/body
post() {
  local url=${*: -1} form=()
  local field
  for field in "${@:1:$#-1}"; do
    form+=(-F "$field")
  done
  curl -sS -o "$work/body" -w '%{http_code}' --max-time 60 "${form[@]}" -H "X-API-Key: $key" "$url"
}

json() {  # json EXPRESSION: evaluates EXPRESSION on the last body, parsed as `b`
  python3 -c "import json, sys; b = json.load(open(sys.argv[1])); print($1)" "$work/body"
}

check_run() {  # check_run LABEL [RUN OPTIONS...]
  local label=$1
  shift
  local port
  port=$(free_port)
  name="beat-selection-smoke-$$-$label"
  local url="http://127.0.0.1:$port" started
  started=$(date +%s.%N)
  "$engine" run -d --name "$name" --network host -e "UVICORN_PORT=$port" \
    -e "BEAT_SELECTION_API_KEY=$key" "$@" "$image" >/dev/null || fail "$label: the container did not start"

  local deadline=$(( $(date +%s) + ready_within ))
  until curl -sf -o /dev/null --max-time 2 "$url/ready"; do
    if [ "$("$engine" inspect -f '{{.State.Running}}' "$name")" != true ]; then
      fail "$label: the container exited before it was ready"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      fail "$label: not ready after $ready_within s"
    fi
    sleep 0.2
  done
  local ready
  ready=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$started" "$(date +%s.%N)")
  echo "$label: ready $ready s after run"
  passed=$((passed + 1))

  local status
  status=$(post file=@data/sample.wav "$url/recommend") || fail "$label: no answer from $url"
  [ "$status" = 200 ] || fail "$label: /recommend answered $status: $(cat "$work/body")"
  # the sample is an Afro groove: Afro among the model's three most probable styles, and the first one recommended
  [ "$(json '"afro" in [s["id"] for s in b["styles"][:3]] and b["styles"][0]["name"] == b["recommended_beat"]')" = True ] \
    || fail "$label: expected Afro among the first three styles: $(head -c 300 "$work/body")"
  echo "$label: /recommend data/sample.wav -> $(json 'b["recommended_beat"], len(b["matches"]), "matches, top", b["matches"][0]["name"]')"
  passed=$((passed + 1))

  local audio_url kind
  audio_url=$(json 'b["matches"][0]["audio_url"]')
  kind=$(curl -sS -o "$work/audio" -w '%{http_code} %{content_type}' --max-time 30 "$url$audio_url") \
    || fail "$label: no answer from $url$audio_url"
  [ "$kind" = "200 audio/mpeg" ] || fail "$label: $audio_url answered $kind"
  python3 -c 'import sys; d = open(sys.argv[1], "rb").read(3); sys.exit(d != b"ID3" and d[:1] != b"\xff")' "$work/audio" \
    || fail "$label: $audio_url is not an MP3 file"
  echo "$label: $audio_url -> $kind, $(wc -c <"$work/audio") bytes"
  passed=$((passed + 1))

  printf 'this is plain text, not audio\n' >"$work/not-audio.wav"
  status=$(post "file=@$work/not-audio.wav" "$url/recommend") || fail "$label: no answer from $url"
  [[ "$status" == 415 || "$status" == 422 ]] || fail "$label: a text file got $status: $(cat "$work/body")"
  echo "$label: /recommend not-audio.wav -> $status $(json 'b["error"]["code"]')"
  passed=$((passed + 1))

  status=$(post file=@data/sample.wav name=smoke "$url/beats") || fail "$label: no answer from $url"
  [ "$status" = 409 ] || fail "$label: POST /beats on the read-only catalogue got $status: $(cat "$work/body")"
  echo "$label: POST /beats -> $status $(json 'b["error"]["code"]')"
  passed=$((passed + 1))

  if [ "$engine" = podman ]; then
    "$engine" healthcheck run "$name" >/dev/null || fail "$label: the HEALTHCHECK failed"
    echo "$label: HEALTHCHECK healthy"
    passed=$((passed + 1))
  fi
  "$engine" rm -f "$name" >/dev/null
  name=""
}

[ -f data/sample.wav ] || fail "data/sample.wav is missing"
size=$("$engine" image inspect -f '{{.Size}}' "$image") || fail "no image $image: run make docker"
echo "image $image: $(( size / 1000000 )) MB (budget $max_image_mb MB)"
[ $(( size / 1000000 )) -le "$max_image_mb" ] || fail "the image is $(( size / 1000000 )) MB, over its $max_image_mb MB budget"
passed=$((passed + 1))
check_run default
# --read-only: podman mounts a tmpfs on /tmp by itself; docker needs it asked for
check_run read-only --read-only --tmpfs /tmp
echo "smoke: $passed passed, 0 failed"
