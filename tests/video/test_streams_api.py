"""The video routes' answers match the OpenAPI document (Flask client, real model)."""

from __future__ import annotations

from hailo_scrfd.http.app import create_app
from hailo_scrfd.pipeline.response import LANDMARK_NAMES
from support.wait import until

from ..ops.test_openapi import check



def test_video_routes_answer_as_documented(model, t1, tmp_path):
    client = create_app(model.config, model).test_client()
    resp = client.post("/v1/streams", json={"file": "x.mp4"})
    assert resp.status_code == 405 and "POST" not in resp.headers["Allow"]
    assert "post" not in client.get("/openapi.json").get_json()["paths"]["/v1/streams"]
    check("/v1/streams", "get", client.get("/v1/streams"))
    check("/v1/streams/{stream_id}", "delete", client.delete("/v1/streams/st_nope"))
    check("/v1/streams/{stream_id}/events", "get", client.get("/v1/streams/st_nope/events"))
    check("/v1/track", "post", first := client.post("/v1/track", data=t1, content_type="image/jpeg"))
    session = first.get_json()["session"]
    check("/v1/track", "post", client.post(f"/v1/track?session={session}&threshold=0.6", data=t1,
                                           content_type="image/jpeg"))
    check("/v1/track", "post", client.post("/v1/track?session=tr_nope", data=t1, content_type="image/jpeg"))
    check("/v1/track", "post", client.post("/v1/track?threshold=2", data=t1, content_type="image/jpeg"))
    enabled = create_app(model.config.override(streams__enabled=True, streams__media_dir=str(tmp_path)),
                         model).test_client()
    check("/v1/streams", "post", refused := enabled.post("/v1/streams", json={"file": "../x.mp4"}))
    assert refused.status_code == 400
    check("/v1/streams", "post", enabled.post("/v1/streams", data=b"x", content_type="text/plain"))


def test_tracking_sessions_are_capped_and_expire(model, t1):
    config = model.config.override(streams__max_sessions=2, streams__session_idle_s=1.0)
    client = create_app(config, model).test_client()
    ids = [client.post("/v1/track", data=t1, content_type="image/jpeg").get_json()["session"] for _ in range(2)]
    full = client.post("/v1/track", data=t1, content_type="image/jpeg")
    check("/v1/track", "post", full)
    assert full.status_code == 429 and full.headers["Retry-After"]
    streams = client.application.extensions["hailo_scrfd"].streams
    # idle 1 s, then the janitor (every second) expires both: polled, as a loaded machine may run it late
    assert until(lambda: streams.stats()["sessions"] == 0)
    gone = client.post(f"/v1/track?session={ids[0]}", data=t1, content_type="image/jpeg")
    assert gone.status_code == 404
    assert client.post("/v1/track", data=t1, content_type="image/jpeg").status_code == 200


def test_a_client_may_name_its_tracking_session(model, t1):
    """Behind nginx's hash on the session, the first frame must already carry the session's name."""
    client = create_app(model.config, model).test_client()
    first = client.post("/v1/track?session=door-cam.1", data=t1, content_type="image/jpeg")
    second = client.post("/v1/track?session=door-cam.1", data=t1, content_type="image/jpeg")
    assert first.status_code == second.status_code == 200
    assert (first.get_json()["session"], first.get_json()["frame"], second.get_json()["frame"]) == ("door-cam.1", 0, 1)
    assert client.post("/v1/track?session=tr_never", data=t1, content_type="image/jpeg").status_code == 404
    bad = client.post("/v1/track?session=a%20b", data=t1, content_type="image/jpeg")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_parameter"


def tracked_faces(client, t1, session: str) -> list[dict]:
    """The tracks of t1 pushed three times into one session (a track is confirmed on its third frame)."""
    for _ in range(3):
        resp = client.post(f"/v1/track?session={session}", data=t1, content_type="image/jpeg")
        assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["tracks"]


def test_tracking_quality_uses_the_configured_thresholds(model, t1):
    default = tracked_faces(create_app(model.config, model).test_client(), t1, "default-thresholds")
    strict = tracked_faces(create_app(model.config.override(quality__max_yaw=0.0), model).test_client(), t1,
                           "strict-thresholds")
    assert default and len(strict) == len(default)
    assert any("turned" not in t["quality"]["issues"] for t in default)
    assert all("turned" in t["quality"]["issues"] for t in strict)  # |yaw| > 0 for every real face


def structure(value):
    """A JSON value's shape: each object's keys in order, the length of a list of numbers, leaves' types."""
    if isinstance(value, dict):
        return {key: structure(item) for key, item in value.items()}
    if isinstance(value, list):
        return ("numbers", len(value)) if all(isinstance(v, (int, float)) for v in value) and value else "list"
    return type(value).__name__


def test_a_tracked_face_is_a_detected_face_with_its_track_id(model, t1):
    client = create_app(model.config, model).test_client()
    tracks = tracked_faces(client, t1, "one-face-json")
    detected = client.post("/v1/detect?quality=true", data=t1, content_type="image/jpeg").get_json()["faces"]
    assert tracks and detected
    for track in tracks:
        face = {key: value for key, value in track.items() if key != "track_id"}
        assert list(track) == ["track_id", *detected[0]] and structure(face) == structure(detected[0])
        assert list(track["landmarks"]) == list(LANDMARK_NAMES)
        coordinates = track["bbox"] + [v for point in track["landmarks"].values() for v in point]
        assert all(round(v, 3) == v for v in coordinates) and round(track["score"], 5) == track["score"]
