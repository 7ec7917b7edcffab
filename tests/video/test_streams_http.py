"""Streams over HTTP against a real server on 127.0.0.1: MJPEG served from the test, an H.264/MP4 file in the
media directory, Server-Sent Events shared and dropped by clients, a source that dies, pushed frames."""

from __future__ import annotations

import json
import time

import pytest
import requests
from support.server import running
from support.video import MjpegServer, jpegs, scene as make_scene, write_h264_mp4, write_mjpeg_avi

from hailo_scrfd.pipeline.response import LANDMARK_NAMES

from ..conftest import DEFAULT_MODEL

pytestmark = pytest.mark.e2e


def events(resp, limit_s: float = 120.0):
    """(name, data) pairs from an SSE response, until the stream ends or ``limit_s`` passes."""
    name, deadline = None, time.monotonic() + limit_s
    for line in resp.iter_lines():
        if time.monotonic() > deadline:
            return
        if line.startswith(b"event: "):
            name = line[7:].decode()
        elif line.startswith(b"data: "):
            yield name, json.loads(line[6:])


@pytest.fixture(scope="module")
def scene(shared):
    return make_scene(shared)


@pytest.fixture(scope="module")
def server(shared, scene, tmp_path_factory):
    media = tmp_path_factory.mktemp("media")
    write_h264_mp4(scene.frames[:45], media / "pan.mp4", 15)
    write_mjpeg_avi(scene.frames[:30], media / "pan.avi", 15)
    config = media.parent / "streams.yaml"
    config.write_text(f"streams:\n  enabled: true\n  media_dir: {media}\n  max_fps: 20\n  max_clients: 5\n"
                      "  stall_timeout_s: 3\n  keepalive_s: 1\n"
                      "url_fetch:\n  enabled: true\n  allowed_schemes: [http]\n  allowed_hosts: [127.0.0.1]\n"
                      "  allow_private_addresses: true\n")
    with running(shared / "models" / DEFAULT_MODEL, "--config", str(config)) as proc:
        yield proc


def open_stream(server, body) -> str:
    resp = requests.post(server.url + "/v1/streams", json=body, timeout=10)
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


@pytest.mark.parametrize("name", ["pan.mp4", "pan.avi"])
def test_a_file_stream_sends_tracks_then_one_best_shot_per_track(server, name):
    sid = open_stream(server, {"file": name})
    with requests.get(f"{server.url}/v1/streams/{sid}/events", stream=True, timeout=60) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        got = list(events(resp))
    frames = [d for n, d in got if n == "frame"]
    shots = [d for n, d in got if n == "best_shot"]
    assert got[-1][0] == "end" and got[-1][1]["state"] == "ended"
    assert frames and any(d["tracks"] for d in frames)
    track_ids = {t["track_id"] for d in frames for t in d["tracks"]}
    # one best shot per track; frames sent before this client subscribed are not replayed, so a track seen only
    # in those has its shot without its frames here
    shot_ids = [s["track_id"] for s in shots]
    assert len(shot_ids) == len(set(shot_ids)) and track_ids <= set(shot_ids)
    assert all(s["image"] and s["format"] == "jpeg" for s in shots)
    first = next(t for d in frames for t in d["tracks"])
    assert len(first["bbox"]) == 4 and list(first["landmarks"]) == list(LANDMARK_NAMES) and 0 < first["score"] <= 1


def test_mjpeg_source_shared_by_two_clients_and_a_dying_source_ends_with_error(server, scene):
    source = MjpegServer(jpegs(scene.frames[:40]), 15, die_after=40)
    try:
        sid = open_stream(server, {"url": source.url})
        first = requests.get(f"{server.url}/v1/streams/{sid}/events", stream=True, timeout=60)
        second = requests.get(f"{server.url}/v1/streams/{sid}/events", stream=True, timeout=60)
        with first, second:
            a, b = list(events(first)), list(events(second))
    finally:
        source.close()
    for got in (a, b):
        assert got[-2][0] == "error" and got[-2][1]["reason"].startswith("eof")
        assert got[-1] == ("end", got[-1][1]) and got[-1][1]["state"] == "error"
    shots = lambda got: sorted(d["track_id"] for n, d in got if n == "best_shot")  # noqa: E731
    assert shots(a) == shots(b) and shots(a)
    health = requests.get(server.url + "/health", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_a_disconnecting_client_is_released_and_the_stream_goes_on(server, scene):
    source = MjpegServer(jpegs(scene.frames[:20]), 15, loop=True)
    try:
        sid = open_stream(server, {"url": source.url})
        staying = requests.get(f"{server.url}/v1/streams/{sid}/events", stream=True, timeout=30)
        leaving = requests.get(f"{server.url}/v1/streams/{sid}/events", stream=True, timeout=30)
        assert clients(server, sid) == 2
        next(events(leaving))
        leaving.close()
        deadline = time.monotonic() + 10
        while clients(server, sid) != 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert clients(server, sid) == 1
        got = events(staying)
        assert next(n for n, _ in got if n == "frame")
        closed = requests.delete(f"{server.url}/v1/streams/{sid}", timeout=10)
        assert closed.status_code == 200
        assert [n for n, _ in got][-1] == "end"
        staying.close()
        assert requests.get(f"{server.url}/v1/streams/{sid}/events", timeout=5).status_code == 404
    finally:
        source.close()


def clients(server, sid: str) -> int:
    streams = requests.get(server.url + "/v1/streams", timeout=5).json()["streams"]
    return next(s["clients"] for s in streams if s["id"] == sid)


def test_pushed_frames_are_tracked_in_a_session(server, scene):
    data = jpegs(scene.frames[:8])
    resp = requests.post(server.url + "/v1/track", data=data[0], headers={"Content-Type": "image/jpeg"}, timeout=30)
    assert resp.status_code == 200, resp.text
    session = resp.json()["session"]
    ids = []
    for frame in data[1:]:
        body = requests.post(server.url + f"/v1/track?session={session}", data=frame,
                             headers={"Content-Type": "image/jpeg"}, timeout=30).json()
        ids.append({t["track_id"] for t in body["tracks"]})
    assert len(ids[-1]) >= 3 and ids[-1] == ids[-2] == ids[-3]  # t1's faces, zoomed, one id each
    gone = requests.post(server.url + "/v1/track?session=tr_nope", data=data[0],
                         headers={"Content-Type": "image/jpeg"}, timeout=30)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("body, message", [
    ({"url": "http://example.com/x.mjpg"}, "allowed_hosts"),
    ({"url": "ftp://127.0.0.1/x"}, "scheme"),
    ({"file": "../streams.yaml"}, "inside"),
    ({"file": "missing.mp4"}, "no file"),
    ({"url": "http://127.0.0.1/", "file": "pan.mp4"}, "send"),
])
def test_sources_outside_the_fences_are_refused(server, body, message):
    resp = requests.post(server.url + "/v1/streams", json=body, timeout=10)
    assert resp.status_code == 400 and message in resp.json()["error"]["message"]
