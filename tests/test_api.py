"The API over HTTP, against a real uvicorn server in another process (see `api_server` in conftest.py)."
from __future__ import annotations

import io
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
import soundfile as sf

from beat_selection.beats import STYLE_IDS
from conftest import API_KEY, MAX_UPLOAD, SAMPLE, chord, free_port, wait_ready

SAMPLE_BYTES = SAMPLE.read_bytes()


def wav_bytes(data: np.ndarray, sr: int = 44_100, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, data, sr, format="WAV", subtype=subtype)
    return buffer.getvalue()


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert set(error) == {"code", "message", "request_id"} and error["message"]
    assert "Traceback" not in response.text and "/tmp/" not in response.text
    if code:
        assert error["code"] == code, error
    return error


@pytest.fixture(scope="module")
def client(api_server):
    with httpx.Client(base_url=api_server, timeout=60) as c:
        yield c


# --- happy paths ------------------------------------------------------------------------------------------

def test_health_ready_docs(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["status"] == "ready" and ready["beats"] >= len(STYLE_IDS) and ready["workers"] == 2  # + beats added by tests
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/analyze", "/recommend", "/beats", "/beats/{beat_id}", "/beats/{beat_id}/audio", "/health", "/ready",
            "/beats/{beat_id}/audition", "/beats/{beat_id}/midi", "/mix"} <= set(paths)


def test_recommend_the_sample(client):
    r = client.post("/recommend", files={"file": ("sample.wav", SAMPLE_BYTES, "audio/wav")}, data={"top_k": "3"})
    assert r.status_code == 200, r.text
    body = r.json()
    styles = [s["id"] for s in body["styles"]]
    # the sample is an Afro groove: the model ranks Afro among its first three (Amapiano, its neighbour, may come
    # first), and the answer is its first style with that style's probability
    assert "afro" in styles[:3] and len(styles) == len(STYLE_IDS)
    assert body["style"] == styles[0] and body["confidence"] == body["styles"][0]["probability"]
    assert len(body["matches"]) == 3 and body["analysis"]["key_name"] == "E minor"
    # our beats are made again at the track's tempo and key; a beat added as audio is stretched
    assert all(m["replayed"] == (m["source"] == "generated") for m in body["matches"])
    match = body["matches"][0]
    assert set(match["reasons"]) == {"tempo", "key", "energy", "groove"}
    audio = client.get(match["audio_url"])
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/flac"
    assert sf.info(io.BytesIO(audio.content)).format == "FLAC"
    assert r.headers["x-request-id"]


def test_recommend_with_a_style_filter(client):
    r = client.post("/recommend", files={"file": ("s.wav", SAMPLE_BYTES)}, data={"style": "trap", "top_k": "10"})
    assert r.status_code == 200 and {m["style"] for m in r.json()["matches"]} == {"trap"}
    assert_error(client.post("/recommend", files={"file": ("s.wav", SAMPLE_BYTES)}, data={"style": "polka"}), 422, "invalid_request")
    assert_error(client.post("/recommend", files={"file": ("s.wav", SAMPLE_BYTES)}, data={"top_k": "0"}), 422)


def test_analyze(client):
    r = client.post("/analyze", files={"file": ("sample.wav", SAMPLE_BYTES)})
    assert r.status_code == 200
    a = r.json()
    assert abs(a["tempo"] - 107) < 3 and a["camelot"] == "9A" and set(a["rhythm_grid"]) == {"low", "mid", "high"}
    for field in ("tempo", "key", "mode", "time_signature", "energy", "danceability", "loudness", "tempo_confidence", "key_confidence"):
        assert field in a


def test_analyze_answers_its_schema(client):
    "The answer has every field of the analysis, and the OpenAPI document types it."
    from dataclasses import fields
    from beat_selection.features import Analysis
    a = client.post("/analyze", files={"file": ("sample.wav", SAMPLE_BYTES)}).json()
    assert list(a) == [f.name for f in fields(Analysis)]
    assert a["key"] == 4 and a["mode"] == 0 and a["key_name"] == "E minor"  # Spotify's integers beside the name
    document = client.get("/openapi.json").json()
    schema = document["paths"]["/analyze"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/AnalysisOut"}
    assert document["components"]["schemas"]["AnalysisOut"]["properties"]["mode"]["enum"] == [0, 1]


def test_every_answer_is_typed(client):
    "Each operation's success answer has a schema (JSON) or names its media types (audio, metrics)."
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        for method, operation in operations.items():
            success = next(v for k, v in operation["responses"].items() if k.startswith("2"))
            content = success.get("content", {})
            assert content, (method, path)
            if "application/json" in content:
                assert content["application/json"].get("schema"), (method, path)


def test_beats_listing_filters_and_paging(client):
    everything = client.get("/beats", params={"limit": 100}).json()
    assert everything["total"] == len(everything["items"]) >= len(STYLE_IDS)
    page = client.get("/beats", params={"limit": 5, "offset": 10}).json()
    assert [b["id"] for b in page["items"]] == [b["id"] for b in everything["items"][10:15]][:len(page["items"])]
    one = everything["items"][0]
    by_key = client.get("/beats", params={"key": one["camelot"]}).json()
    assert one["id"] in {b["id"] for b in by_key["items"]} and all(b["camelot"] == one["camelot"] for b in by_key["items"])
    fast = client.get("/beats", params={"bpm_min": 120}).json()
    assert all(b["bpm"] >= 120 for b in fast["items"]) and fast["total"] < everything["total"]
    detail = client.get(f"/beats/{one['id']}").json()
    assert detail["analysis"]["tempo"] > 0 and set(detail["style_probabilities"]) == set(STYLE_IDS)


@pytest.mark.parametrize("params,code", [({"limit": 1000}, "invalid_request"), ({"offset": -1}, "invalid_request"),
                                          ({"style": "polka"}, "invalid_request"), ({"key": "H minor"}, "invalid_request"),
                                          ({"bpm_min": "fast"}, "invalid_request")])
def test_beats_bad_queries(client, params, code):
    assert_error(client.get("/beats", params=params), 422, code)


def test_unknown_things_are_json_404_and_405(client):
    assert_error(client.get("/beats/no-such-beat"), 404, "not_found")
    assert_error(client.get("/beats/no-such-beat/audio"), 404, "not_found")
    assert_error(client.get("/beats/..%2F..%2Fetc%2Fpasswd/audio"), 404)
    assert_error(client.get("/nowhere"), 404, "not_found")
    assert_error(client.delete("/beats"), 405, "method_not_allowed")


def test_demo_page_and_metrics(client):
    page = client.get("/")
    assert page.status_code == 200 and "beat_selection" in page.text and 'id="file"' in page.text
    metrics = client.get("/metrics").text
    assert "beat_selection_requests_total" in metrics and "beat_selection_request_seconds_bucket" in metrics


def test_metrics_name_routes_by_their_template(client):
    "Every request a route takes is counted under its template; only paths no route takes are 'unmatched'."
    beat_id = client.get("/beats", params={"limit": 1}).json()["items"][0]["id"]
    for path in (f"/beats/{beat_id}", f"/beats/{beat_id}/audio", "/openapi.json", "/docs", "/no/such/path"):
        client.get(path)
    counted = re.findall(r'^beat_selection_requests_total\{method="(\w+)",route="([^"]*)",status="(\d+)"\}',
                         client.get("/metrics").text, re.M)
    routes = {route for _, route, _ in counted}
    assert {"/beats/{beat_id}", "/beats/{beat_id}/audio", "/openapi.json", "/docs", "/beats", "/health"} <= routes, routes
    assert not any(beat_id in route for route in routes)
    assert {status for _, route, status in counted if route == "unmatched"} == {"404"}, counted


def test_docs_work_offline(client):
    "/docs and /redoc name nothing outside the server, and every file they load is served by it."
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        assert not re.search(r"(?:https?:)?//[a-z]", html.text), page
        assets = re.findall(r'(?:src|href)=["\']([^"\']+)["\']', html.text)
        assert any(a.endswith(".js") for a in assets), assets
        for asset in assets:
            assert asset.startswith("/"), asset
            served = client.get(asset)
            assert served.status_code == 200 and len(served.content) > 1000, (asset, served.status_code)


SERVE_COMMANDS = {  # how a server is started: uvicorn (access lines on) and `beat-select serve` (`make serve`)
    "uvicorn": [sys.executable, "-m", "uvicorn", "beat_selection.api:app", "--host", "127.0.0.1", "--port"],
    "beat-select serve": [sys.executable, "-c", "from beat_selection.cli import main; raise SystemExit(main())", "serve",
                          "--port"]}


@pytest.mark.parametrize("command", SERVE_COMMANDS)
def test_every_log_line_is_json_access_lines_included(small_catalogue, tmp_path, command):
    "Whichever way the server starts, its lines, uvicorn's own and its access lines included, are one JSON format."
    port, logs = free_port(), tmp_path / "server.log"
    env = {**os.environ, "BEAT_SELECTION_CATALOGUE": str(small_catalogue), "BEAT_SELECTION_WORKERS": "1"}
    with open(logs, "wb") as log:
        process = subprocess.Popen(SERVE_COMMANDS[command] + [str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}", 120, process)
        httpx.get(f"http://127.0.0.1:{port}/health?probe=1")
    finally:
        process.terminate()
        process.wait(20)
    lines = [json.loads(line) for line in logs.read_text().splitlines() if line.strip()]  # fails on a plain line
    assert any(l["logger"] == "beat_selection.api" and l["message"] == "request" and l["path"] == "/health" for l in lines)
    assert any(l["logger"] == "uvicorn.error" and "Started server process" in l["message"] for l in lines)
    if command == "uvicorn":  # `beat-select serve` turns uvicorn's access lines off: the service logs every request
        access = [l for l in lines if l["logger"] == "uvicorn.access" and l.get("path") == "/health?probe=1"]
        assert access and access[0]["method"] == "GET" and access[0]["status"] == 200, lines[-5:]


# --- every bad input of the audio chapter, through HTTP -----------------------------------------------------

def _truncated() -> bytes:
    return wav_bytes(chord())[:30]


BAD_UPLOADS = {
    "empty": (b"", 422, "empty_audio"),
    "text": (b"hello, this is not audio at all\n" * 50, 415, "unsupported_format"),
    "random bytes": (np.random.default_rng(1).bytes(100_000), 415, "unsupported_format"),
    "truncated wav": (_truncated(), 422, "corrupt_audio"),
    "silence": (wav_bytes(np.zeros((44_100 * 4, 2), np.float32)), 422, "silent_audio"),
    "too short": (wav_bytes(chord(seconds=1.0)), 422, "too_short"),
    "too long": (wav_bytes(np.full((8_000 * 70, 1), 0.1, np.float32), 8_000), 413, "too_long"),  # the server allows 60 s
    "sample rate too low": (wav_bytes(chord(sr=4_000), 4_000), 415, "unsupported_parameters"),
    "40 channels": (wav_bytes(chord(channels=40, seconds=2.5, sr=8_000), 8_000), 415, "unsupported_parameters"),
    "NaN samples": (wav_bytes(np.where(np.arange(44_100 * 3)[:, None] == 5000, np.nan, chord()), subtype="FLOAT"), 422, "corrupt_audio"),
}


@pytest.mark.parametrize("endpoint", ["/analyze", "/recommend"])
@pytest.mark.parametrize("name", list(BAD_UPLOADS))
def test_bad_audio_gets_its_status(client, endpoint, name):
    data, status, code = BAD_UPLOADS[name]
    assert_error(client.post(endpoint, files={"file": (name, data)}), status, code)


def test_missing_file_field_and_not_multipart(client):
    assert_error(client.post("/recommend", data={"top_k": "3"}), 422, "invalid_request")
    assert_error(client.post("/recommend", content=b"raw bytes", headers={"content-type": "audio/wav"}), 422)
    r = client.post("/recommend", content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code in (400, 422) and r.json()["error"]["code"]


# --- the multipart body, read as it arrives ----------------------------------------------------------------

def multipart(*parts: tuple[str, bytes, str | None], boundary: str = "b0und") -> tuple[bytes, dict[str, str]]:
    "A multipart/form-data body of (name, value, filename) parts, and its content type."
    body = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), {"content-type": f"multipart/form-data; boundary={boundary}"}


def test_form_fields_after_the_file_and_a_file_without_a_name(client):
    for fields, check in [((("top_k", b"3", None),), lambda matches: len(matches) == 3),
                          ((("style", b"trap", None),), lambda matches: {m["style"] for m in matches} == {"trap"})]:
        body, headers = multipart(("file", SAMPLE_BYTES, None), *fields)  # the demo page sends the file first, too
        r = client.post("/recommend", content=body, headers=headers)
        assert r.status_code == 200 and check(r.json()["matches"]), r.text[:300]


BAD_FORMS = {
    "cut off in the file": (multipart(("file", SAMPLE_BYTES, "s.wav"))[0][:100_000], 400, "bad_request"),
    "not multipart at all": (b"hello", 400, "bad_request"),
    "two files": (multipart(("file", SAMPLE_BYTES, "a.wav"), ("file", SAMPLE_BYTES, "b.wav"))[0], 400, "bad_request"),
    "too many parts": (multipart(*[("x", b"1", None)] * 20)[0], 400, "bad_request"),
    "a part without a name": (b"--b0und\r\nContent-Type: audio/wav\r\n\r\nabc\r\n--b0und--\r\n", 400, "bad_request"),
    "a huge form field": (multipart(("file", SAMPLE_BYTES, "s.wav"), ("style", b"x" * 100_000, None))[0], 413, "too_large"),
    "no file": (multipart(("top_k", b"3", None))[0], 422, "invalid_request"),
}


@pytest.mark.parametrize("name", list(BAD_FORMS))
def test_bad_forms_get_their_status(client, name):
    body, status, code = BAD_FORMS[name]
    assert_error(client.post("/recommend", content=body, headers=multipart()[1]), status, code)


# --- limits: size, slow clients, concurrency ----------------------------------------------------------------

def raw_request(url: str, head: bytes, body: bytes = b"", read_timeout: float = 10) -> tuple[bytes, float]:
    "Send raw bytes on a socket; (the whole response, seconds until its first byte)."
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=read_timeout) as s:
        started = time.monotonic()
        s.sendall(head + body)
        response = s.recv(65536)
        elapsed = time.monotonic() - started
        try:
            while chunk := s.recv(65536):  # until the server closes: it must not wait for the rest of the body
                response += chunk
        except TimeoutError:
            pass
        return response, elapsed


def test_oversize_upload_is_refused_before_it_is_read(api_server):
    head = (f"POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {50 * MAX_UPLOAD}\r\n\r\n").encode()
    response, _ = raw_request(api_server, head, b"--b\r\n")  # 5 bytes of a 150 MB body: the server must answer anyway
    assert response.startswith(b"HTTP/1.1 413") and b'"too_large"' in response


def test_oversize_chunked_upload_is_cut_off(api_server):
    host, port = api_server.removeprefix("http://").split(":")
    chunk = b"\0" * 65536
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /recommend HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  b"Content-Type: multipart/form-data; boundary=b\r\n\r\n")
        part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
        s.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        sent = 0
        while sent < 20 * MAX_UPLOAD and not select.select([s], [], [], 0)[0]:  # stop once the server answers
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        response = s.recv(65536)
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    assert sent < 20 * MAX_UPLOAD  # answered long before the 60 MB body ended (socket buffers hold a few MB)


def test_slow_client_gets_408_and_does_not_block_others(api_server, client):
    head = (b"POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 100000\r\n\r\n")
    result = {}
    slow = threading.Thread(target=lambda: result.update(zip(("response", "seconds"), raw_request(api_server, head, b"--b\r\n"))))
    slow.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert client.get("/health").status_code == 200 and time.monotonic() - started < 1.5
    slow.join(30)
    assert result["response"].startswith(b"HTTP/1.1 408"), result["response"][:200]
    assert 1.5 < result["seconds"] < 10  # the idle timeout of the test server is 2 s


def test_concurrent_uploads_get_answers_or_503(client):
    def post(_):
        return client.post("/recommend", files={"file": ("s.wav", SAMPLE_BYTES)})

    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(post, range(12)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 503} and statuses.count(200) >= 4, statuses  # 2 workers + 2 waiting at least
    for r in responses:
        if r.status_code == 503:
            assert_error(r, 503, "busy")
            assert r.headers["retry-after"]
    assert client.get("/ready").status_code == 200  # and the server is fine afterwards


def test_no_upload_is_left_behind(api_server, client, server_tmpdir):
    "Whatever happened to an upload (answered, refused half-way, abandoned by its client), its file is removed."
    assert client.post("/analyze", files={"file": ("s.wav", SAMPLE_BYTES)}).status_code == 200
    assert client.post("/analyze", content=BAD_FORMS["cut off in the file"][0], headers=multipart()[1]).status_code == 400
    assert client.post("/analyze", files={"file": ("big.wav", b"\0" * (MAX_UPLOAD + 100_000))}).status_code == 413
    host, port = api_server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:  # a client that leaves half-way through its upload
        s.sendall(b"POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b0und\r\n"
                  b"Content-Length: 1000000\r\n\r\n" + multipart(("file", SAMPLE_BYTES, "s.wav"))[0][:300_000])
        time.sleep(0.5)
    for _ in range(50):
        left = sorted(p.name for p in server_tmpdir.glob("beat-selection-*"))
        if not left:
            break
        time.sleep(0.1)
    assert not left, left


# --- adding beats ------------------------------------------------------------------------------------------

def test_adding_a_beat_needs_the_key(client):
    upload = {"file": ("my groove.wav", SAMPLE_BYTES)}
    assert_error(client.post("/beats", files=upload), 401, "unauthorized")
    assert_error(client.post("/beats", files=upload, headers={"X-API-Key": "wrong"}), 401, "unauthorized")
    # filed under the style the model hears in it, so that the ranking's places for that style do not decide
    heard = client.post("/recommend", files={"file": ("s.wav", SAMPLE_BYTES)}, data={"top_k": "1"}).json()["style"]
    r = client.post("/beats", files=upload, data={"style": heard}, headers={"X-API-Key": API_KEY})
    assert r.status_code == 201, r.text
    beat = r.json()
    assert (beat["name"], beat["style"], beat["source"]) == ("my groove", heard, "user")
    assert client.get(f"/beats/{beat['id']}").status_code == 200
    # the recommender sees it at once: the sample is its own best match
    best = client.post("/recommend", files={"file": ("s.wav", SAMPLE_BYTES)}, data={"top_k": "1"}).json()["matches"][0]
    assert best["id"] == beat["id"]
    assert_error(client.post("/beats", files={"file": ("x.txt", b"not audio" * 10)}, headers={"X-API-Key": API_KEY}), 415)


def test_adding_without_the_key_is_refused_before_the_upload_is_read(api_server):
    head = (b"POST /beats HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b0und\r\n"
            b"Content-Length: 2000000\r\n\r\n")
    response, _ = raw_request(api_server, head, b"--b0und\r\n", read_timeout=3)  # 9 bytes of 2 MB: the answer comes anyway
    assert response.startswith(b"HTTP/1.1 401") and b'"unauthorized"' in response, response[:200]


def test_adding_is_off_without_a_configured_key():
    from fastapi.testclient import TestClient
    from beat_selection.api import Settings, create_app
    app = create_app(Settings(api_key=None))
    r = TestClient(app).post("/beats", files={"file": ("s.wav", SAMPLE_BYTES)}, headers={"X-API-Key": "anything"})
    assert_error(r, 403, "adding_disabled")


# --- the whole schema, fuzzed ------------------------------------------------------------------------------

# The schema cannot say which bytes decode as audio: for the upload endpoints, a schema-valid request may still
# be refused for its content (413 too much audio, 415 not audio, 422 unreadable), and 429/503 are the limits;
# a mix names a beat, which may not exist (404).
SCHEMATHESIS_CONFIG = """
[[operations]]
include-method = "POST"
include-path-regex = "^/mix$"
checks.positive_data_acceptance.expected-statuses = ["2xx", 404, 413, 415, 422, 429, 503]

[[operations]]
include-method = "POST"
include-path-regex = "^/(analyze|recommend|beats)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", 401, 403, 409, 413, 415, 422, 429, 503]

# a key of the other mode, or the MIDI of a beat added as audio, is schema-valid and refused (422); 503 when busy
[[operations]]
include-method = "GET"
include-path-regex = "/(audition|midi)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", 404, 422, 503]
"""


@pytest.mark.skipif(shutil.which("schemathesis", path=sys.prefix + "/bin") is None, reason="schemathesis not installed")
def test_schemathesis_all_checks(api_server, tmp_path):
    "Every check schemathesis has: no server error, and the server and its OpenAPI document agree."
    config = tmp_path / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG)
    run = subprocess.run([sys.prefix + "/bin/schemathesis", "--config-file", str(config), "run", api_server + "/openapi.json",
                          "--checks", "all", "--max-examples", "25", "--seed", "1",
                          "--request-timeout", "30", "--header", f"X-API-Key: {API_KEY}", "--no-color"],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)  # its cache stays out of the repo
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


# --- messages: a stable code, a short message of our own, the limit actually hit ----------------------------

MARK = "zqx9"  # something only a client would write


def test_error_messages_never_echo_what_the_client_sent(client):
    answers = [(client.get(f"/beats/{MARK}"), 404), (client.get(f"/beats/{MARK}/audio"), 404),
               (client.get("/beats", params={"key": f"H{MARK}"}), 422),
               (client.post("/recommend", files={"file": ("s.wav", SAMPLE_BYTES)}, data={MARK: "1"}), 422),
               (client.get(f"/{MARK}"), 404)]
    for response, status in answers:
        error = assert_error(response, status)
        assert MARK not in error["message"], error


def test_405_and_options_name_every_method_of_the_path(client):
    r = assert_error(client.options("/beats"), 405, "method_not_allowed")
    assert set(client.options("/beats").headers["allow"].split(", ")) == {"GET", "POST"}
    assert client.delete("/beats/x").headers["allow"] == "GET"


def test_413_names_the_limit_that_is_enforced(api_server):
    from beat_selection.api.limits import MULTIPART_SLACK
    enforced = MAX_UPLOAD + MULTIPART_SLACK
    head = (f"POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {enforced + 1}\r\n\r\n").encode()
    response, _ = raw_request(api_server, head, b"--b\r\n")
    assert response.startswith(b"HTTP/1.1 413") and f"{enforced:,} bytes".encode() in response, response[-400:]
    head = head.replace(f"{enforced + 1}".encode(), f"{enforced}".encode())  # exactly the limit: read, not refused
    response, _ = raw_request(api_server, head, b"--b\r\n", read_timeout=4)
    assert not response.startswith(b"HTTP/1.1 413"), response[:200]


def test_the_openapi_document_has_no_null_a_form_or_query_cannot_send(client):
    schema = client.get("/openapi.json").json()
    text = str(schema["paths"])
    assert "'null'" not in text
    form = schema["paths"]["/beats"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["additionalProperties"] is False and "enum" in form["properties"]["style"]


def test_a_catalogue_from_another_style_model_fails_the_start(small_catalogue, tmp_path):
    "Embeddings of another size (an older model's) stop the start with a reason, rather than fail every request."
    import sqlite3
    from fastapi.testclient import TestClient
    from beat_selection.api import Settings, create_app
    root = tmp_path / "older"
    shutil.copytree(small_catalogue, root)
    with sqlite3.connect(root / "catalogue.sqlite") as db:
        db.execute("UPDATE beats SET embedding = substr(embedding, 1, 128)")  # 32 float32 numbers
    app = create_app(Settings(catalogue=root, workers=1))
    with TestClient(app) as c:
        deadline = time.monotonic() + 60
        while (status := c.get("/ready").json()["error"]["message"]) and "failed" not in status and time.monotonic() < deadline:
            time.sleep(0.2)
    assert "start-up failed (IncompatibleCatalogueError)" in status, status


# --- auditions, MIDI and mixes -------------------------------------------------------------------------------

def bars_seconds(bars: int, bpm: float, beats_per_bar: int = 4) -> float:
    return bars * beats_per_bar * 60 / bpm


@pytest.fixture(scope="module")
def best_match(client) -> dict:
    "The sample's best match among our beats (other tests add the sample itself as a user's beat)."
    r = client.post("/recommend", files={"file": ("sample.wav", SAMPLE_BYTES)}, data={"top_k": "10"})
    assert r.status_code == 200, r.text
    return next(m for m in r.json()["matches"] if m["source"] == "generated")


def test_every_match_links_its_audition_and_midi_at_its_target(client):
    body = client.post("/recommend", files={"file": ("sample.wav", SAMPLE_BYTES)}, data={"top_k": "5"}).json()
    for match in body["matches"]:
        assert match["play_in_key"].endswith(("major", "minor")) and match["audio_url"]  # the fields of before stay
        if match["source"] == "user":
            assert match["midi_url"] is None
            continue
        assert match["audition_url"].startswith(f"/beats/{match['id']}/audition?bpm={match['play_at_bpm']:g}&key=")
        assert match["midi_url"].startswith(f"/beats/{match['id']}/midi?")


def test_an_audition_plays_at_the_matchs_tempo_and_key(client, best_match):
    r = client.get(best_match["audition_url"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/wav" and r.headers["content-disposition"].startswith("inline; filename=")
    assert float(r.headers["x-beat-bpm"]) == pytest.approx(best_match["play_at_bpm"], abs=0.01)
    assert r.headers["x-beat-key"] == best_match["play_in_key"] and r.headers["x-conform-method"] == "played"
    info = sf.info(io.BytesIO(r.content))
    assert info.duration == pytest.approx(bars_seconds(8, best_match["play_at_bpm"]), abs=0.05)
    # the beat's own tempo and key by default, and fewer bars when asked
    short = client.get(f"/beats/{best_match['id']}/audition", params={"bars": 2})
    assert short.status_code == 200 and float(short.headers["x-beat-bpm"]) == pytest.approx(best_match["bpm"], abs=0.01)
    assert sf.info(io.BytesIO(short.content)).duration == pytest.approx(bars_seconds(2, best_match["bpm"]), abs=0.05)


def test_the_midi_file_has_the_tempo_and_key_asked_for(client, best_match):
    import mido
    r = client.get(best_match["midi_url"])
    assert r.status_code == 200 and r.headers["content-type"] == "audio/midi", r.text[:300]
    song = mido.MidiFile(file=io.BytesIO(r.content))
    tempo = next(m.tempo for m in song.tracks[0] if m.type == "set_tempo")
    assert mido.tempo2bpm(tempo) == pytest.approx(best_match["play_at_bpm"], rel=1e-4)
    assert any(m.type == "note_on" and m.channel == 9 for track in song.tracks for m in track)  # drums on channel 10


@pytest.mark.parametrize("params", [{"bpm": "10"}, {"bpm": "300"}, {"bpm": "nan"}, {"bpm": "inf"}, {"bpm": "fast"},
                                    {"key": "H minor"}, {"key": "x" * 40}, {"bars": "0"}, {"bars": "17"}, {"bars": "2.5"}])
@pytest.mark.parametrize("what", ["audition", "midi"])
def test_bad_targets_are_422(client, best_match, params, what):
    assert_error(client.get(f"/beats/{best_match['id']}/{what}", params=params), 422, "invalid_request")


def test_a_key_of_the_other_mode_is_refused_before_any_work(client, best_match):
    other = "C major" if best_match["key"].endswith("minor") else "A minor"
    for what in ("audition", "midi"):
        error = assert_error(client.get(f"/beats/{best_match['id']}/{what}", params={"key": other}), 422, "cannot_conform")
        assert "mode" in error["message"]


def test_unknown_beats_are_404_everywhere(client):
    for what in ("audition", "midi"):
        assert_error(client.get(f"/beats/{MARK}/{what}"), 404, "not_found")
    assert_error(client.post("/mix", files={"file": ("s.wav", SAMPLE_BYTES)}, data={"beat_id": MARK}), 404, "not_found")


def test_a_mix_is_the_track_with_the_beat_under_it(client, best_match):
    r = client.post("/mix", files={"file": ("sample.wav", SAMPLE_BYTES)}, data={"beat_id": best_match["id"], "bars": "4"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/wav" and r.headers["content-disposition"].startswith('inline; filename="mix-')
    assert sf.info(io.BytesIO(r.content)).duration == pytest.approx(sf.info(SAMPLE).duration, abs=0.05)
    # by default, where the match with the track plays the beat
    assert float(r.headers["x-beat-bpm"]) == pytest.approx(best_match["play_at_bpm"], abs=0.01)
    assert r.headers["x-beat-key"] == best_match["play_in_key"] and 0 <= float(r.headers["x-mix-beat-start"]) < 3
    asked = client.post("/mix", files={"file": ("s.wav", SAMPLE_BYTES)},
                        data={"beat_id": best_match["id"], "bpm": "100", "key": best_match["key"], "bars": "1"})
    assert asked.status_code == 200 and asked.headers["x-beat-bpm"] == "100"


@pytest.mark.parametrize("data", [{}, {"beat_id": ""}, {"bpm": "10"}, {"bpm": "nan"}, {"key": "H"}, {"bars": "99"}, {"colour": "red"}])
def test_bad_mix_forms_are_422(client, best_match, data):
    form = {"beat_id": best_match["id"], **data} if data else {}  # {}: no beat named
    assert_error(client.post("/mix", files={"file": ("s.wav", SAMPLE_BYTES)}, data=form), 422)


def test_a_mix_of_a_file_that_is_not_audio_is_415(client, best_match):
    assert_error(client.post("/mix", files={"file": ("x.txt", b"not audio" * 20)}, data={"beat_id": best_match["id"]}), 415)


def test_a_beat_added_as_audio_is_stretched_and_has_no_midi(client):
    r = client.post("/beats", files={"file": ("stretch me.wav", SAMPLE_BYTES)}, data={"style": "afro"}, headers={"X-API-Key": API_KEY})
    assert r.status_code == 201, r.text
    beat = r.json()
    assert_error(client.get(f"/beats/{beat['id']}/midi"), 422, "no_notes")
    r = client.get(f"/beats/{beat['id']}/audition", params={"bpm": round(beat["bpm"] * 1.05, 2), "bars": 2})
    if shutil.which("rubberband") is None:
        assert_error(r, 503, "rubberband_missing")
    else:
        assert r.status_code == 200 and r.headers["x-conform-method"] == "stretched", r.text[:300]


class InProcessPool:
    "The analysis pool's one method, run in this process: what a test may patch reaches the job."
    pending, capacity = 0, 1

    async def run(self, function, *args, heavy: bool = False):
        return function(*args)


def test_without_rubberband_a_users_beat_is_a_clear_503(small_catalogue, tmp_path, monkeypatch):
    "A server without Debian's rubberband-cli says what to install, rather than failing."
    from fastapi.testclient import TestClient
    import beat_selection.audition as conforming
    from beat_selection.api import Settings, create_app
    from beat_selection.api.workers import describe_new_beat
    from beat_selection.audio import AudioLimits
    from beat_selection.catalogue import Catalogue, new_record
    root = tmp_path / "beats"
    shutil.copytree(small_catalogue, root)
    catalogue = Catalogue(root)
    query, audio, beat_id = describe_new_beat(str(SAMPLE), AudioLimits(), catalogue.audio_format.name)
    catalogue.store(new_record(beat_id, "mine", query.analysis, query.prediction, "user", style="afro"), audio, True)
    app = create_app(Settings(catalogue=root, workers=1))
    service = app.state.service
    service.pool, service.catalogue = InProcessPool(), catalogue
    service.ready.set()
    monkeypatch.setenv("BEAT_SELECTION_CACHE", str(tmp_path / "cache"))  # no audition made earlier answers instead
    monkeypatch.setattr(conforming.shutil, "which", lambda program: None)
    r = TestClient(app).get(f"/beats/{beat_id}/audition", params={"bpm": 100})
    error = assert_error(r, 503, "rubberband_missing")
    assert "rubberband-cli" in error["message"]
    catalogue.close()
