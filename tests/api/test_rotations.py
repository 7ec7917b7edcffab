"""Sideways photos (``rotations``): t1.jpg stored turned by 90, 180 and 270 degrees gives back its faces in the
turned photo's own coordinates, with upright aligned crops; ``none`` answers as before; ``all`` finds a face
pasted lying into an upright photo."""

from __future__ import annotations

import base64
import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from hailo_scrfd.vision.rotation import points_back, turned

BOX_PX, LANDMARK_PX = 6.0, 4.0  # t1's faces are about 100 x 140 px


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG", compress_level=1)
    return out.getvalue()


def post(client, path: str, data: bytes, **query) -> dict:
    resp = client.post(path, data=data, content_type="image/png", query_string=query)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp.get_json()


def untimed(body: dict) -> dict:
    return {**{k: v for k, v in body.items() if k != "timings_ms"},
            "passes": [{k: v for k, v in p.items() if k != "engine_ms"} for p in body["passes"]]}


def corners_and_landmarks(face: dict) -> np.ndarray:
    """(7, 2): the box's two corners, then the five landmarks in SCRFD's order."""
    x, y, w, h = face["bbox"]
    return np.array([[x, y], [x + w, y + h], *face["landmarks"].values()], np.float64)


@pytest.fixture(scope="module")
def t1_pixels(load_image) -> np.ndarray:
    return load_image("t1.jpg")


@pytest.fixture(scope="module")
def upright(client, t1_pixels) -> dict:
    return post(client, "/v1/align", png(t1_pixels))


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_a_turned_photo_gives_the_upright_faces_in_its_own_coordinates(client, t1_pixels, upright, turn):
    pixels = turned(t1_pixels, turn)
    body = post(client, "/v1/align", png(pixels), rotations="auto")
    assert body["count"] == upright["count"] == 6
    assert {p["name"] for p in body["passes"]} - {"base"} <= {"rot90", "rot180", "rot270"}
    assert any(p["name"].startswith("rot") for p in body["passes"])
    for face in upright["faces"]:
        # The upright face as it lies in the turned photo: the turned photo, turned back, is t1.
        expected = points_back(corners_and_landmarks(face), (360 - turn) % 360, pixels.shape[:2])
        box = np.concatenate([expected[:2].min(axis=0), expected[:2].max(axis=0)])
        found = [corners_and_landmarks(f) for f in body["faces"]]
        nearest = min(found, key=lambda f: np.abs(f[2:] - expected[2:]).max())
        assert np.abs(np.concatenate([nearest[0], nearest[1]]) - box).max() < BOX_PX
        assert np.abs(nearest[2:] - expected[2:]).max() < LANDMARK_PX  # each landmark the same eye, nose, mouth
    crops = [_crop(f) for f in body["faces"]]
    for face in upright["faces"]:  # the aligned crops are upright: each matches an upright crop of t1
        assert max(_correlation(_crop(face), c) for c in crops) > 0.9


def test_turned_faces_tell_their_true_roll(client, t1_pixels):
    body = post(client, "/v1/detect", png(turned(t1_pixels, 90)), rotations="auto", quality="true")
    rolls = [f["quality"]["pose"]["roll"] for f in body["faces"]]
    # t1 turned 90 degrees clockwise: each face's eye line points down the image.
    assert all(55 < r < 125 for r in rolls), rolls


def test_none_and_auto_keep_the_upright_answer(client, t1):
    before = post(client, "/v1/detect", t1)
    assert untimed(post(client, "/v1/detect", t1, rotations="none")) == untimed(before)
    assert untimed(post(client, "/v1/detect", t1, rotations="auto")) == untimed(before)  # strong upright faces
    assert [p["name"] for p in before["passes"]] == ["base"]


def test_all_finds_a_face_pasted_lying_into_an_upright_photo(client, t1_pixels, load_image):
    photo = np.array(load_image("selfie.jpg"))
    face = t1_pixels[265 - 40:416 + 40, 465 - 40:573 + 40]  # the second face of t1, with a margin
    lying = turned(face, 90)
    y, x = 100, photo.shape[1] - lying.shape[1] - 100
    photo[y:y + lying.shape[0], x:x + lying.shape[1]] = lying
    data = png(photo)
    upright_only = post(client, "/v1/detect", data, rotations="none")
    every = post(client, "/v1/detect", data, rotations="all")
    assert [p["name"] for p in every["passes"]] == ["base", "rot90", "rot180", "rot270"]

    def pasted(body: dict) -> list[dict]:
        return [f for f in body["faces"] if x <= f["bbox"][0] + f["bbox"][2] / 2 <= x + lying.shape[1]
                and y <= f["bbox"][1] + f["bbox"][3] / 2 <= y + lying.shape[0]]

    assert len(pasted(every)) == 1 and len(pasted(upright_only)) == 0
    assert every["count"] == upright_only["count"] + 1  # the selfie's own face once, not once per turn


def test_video_frames_stay_upright_by_default(app_factory, t1_pixels):
    client = app_factory(detection__rotations="all")
    pipeline = client.application.extensions["hailo_scrfd"].pipeline
    frame = turned(t1_pixels, 180)
    assert len(pipeline.detect_frame(frame)) < 6  # a stream's frames: upright only, whatever the config says
    assert post(client, "/v1/detect", png(frame))["count"] == 6  # the config's default reaches requests


def test_points_map_back_onto_the_same_pixel():
    image = np.arange(5 * 7).reshape(5, 7)
    for turn in (0, 90, 180, 270):
        t = turned(image, turn)
        ys, xs = np.mgrid[:t.shape[0], :t.shape[1]]
        centres = np.stack([xs + 0.5, ys + 0.5], axis=-1).reshape(-1, 2)
        back = points_back(centres, turn, image.shape) - 0.5
        values = image[back[:, 1].round().astype(int), back[:, 0].round().astype(int)]
        assert (values == t.reshape(-1)).all(), turn


def _crop(face: dict) -> np.ndarray:
    data = base64.b64decode(face["aligned"]["image"])
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"), np.float64)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])

@pytest.mark.parametrize("turn", [0, 90, 180, 270])
def test_all_keeps_each_face_once_whichever_way_the_photo_stands(client, t1_pixels, turn):
    """At a low threshold the wrong-way passes find a dozen weak faces in t1 (scores up to 0.73) whose boxes
    overlap no upright face enough for NMS: ``all`` keeps the way up whose faces weigh most, and adds from the
    other ways only faces scoring 0.6 or more, so every way the photo is stored gives the same faces."""
    answers = {}
    for way in (0, turn):
        body = post(client, "/v1/detect", png(turned(t1_pixels, way)), rotations="all", threshold="0.1")
        corners = [points_back(corners_and_landmarks(f)[:2], way, t1_pixels.shape[:2])
                   for f in body["faces"]]  # back in t1's own frame
        answers[way] = sorted((round(float(c[:, 0].min())), round(float(c[:, 1].min())), f["score"])
                              for c, f in zip(corners, body["faces"], strict=True))
    assert len(answers[0]) == 7  # t1's 6 faces and one weak find of its own way up
    assert len(answers[turn]) == len(answers[0])
    for a, b in zip(answers[0], answers[turn], strict=True):
        assert abs(a[0] - b[0]) <= BOX_PX and abs(a[1] - b[1]) <= BOX_PX and abs(a[2] - b[2]) < 0.02


def test_a_frame_asking_for_turns_runs_one_pass_each_way(app_factory, t1_pixels, monkeypatch):
    """A video frame's upright pass is one run with no rescue; its turns are too, so no way up gets a second
    look that the others did not."""
    pipeline = app_factory().application.extensions["hailo_scrfd"].pipeline
    detector, runs = pipeline.detector, []
    canvas_run = detector.detect_canvas
    monkeypatch.setattr(detector, "detect_canvas", lambda *a, **k: runs.append(1) or canvas_run(*a, **k))
    every = dataclasses.replace(pipeline.defaults, rotations="all", mode="full")
    assert len(pipeline.detect_frame(turned(t1_pixels, 90), every)) == 6
    assert len(runs) == 3  # the three turns; the upright pass is the detector's own single run
    runs.clear()
    assert len(pipeline.detect_frame(np.full((480, 640, 3), 128, np.uint8), every)) == 0
    assert len(runs) == 3  # nothing found anywhere: still no rescue pass
