"""Batches on /v1/detect and /v1/align through Flask's test client with the real ONNX model: the same faces as
single requests, in order, a bad image failing only its own entry, and the caps answered with the right 4xx."""

from __future__ import annotations

import base64
import io

import pytest


B64 = lambda data: base64.b64encode(data).decode()  # noqa: E731


@pytest.fixture(scope="module")
def ten_photos(shared) -> list[bytes]:
    """Ten real photos: the sample photos (JPEG and PNG, 1 to 150 faces) and WIDER FACE val crowds."""
    names = ["t1.jpg", "selfie.jpg", "s_l.jpg", "newton.png", "gauss.png", "aligned_112_tom_hanks.png"]
    photos = [(shared / "images" / name).read_bytes() for name in names]
    wider = sorted((shared / "widerface" / "WIDER_val" / "images").rglob("*.jpg"))[:4]
    return photos + [path.read_bytes() for path in wider]


def single(client, path: str, data: bytes, query: str = "") -> dict:
    resp = client.post(path + query, data=data, content_type="application/octet-stream")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def without_timings(entry: dict) -> dict:
    """The entry less what varies from run to run: its timings, and each scale pass's engine time."""
    out = {k: v for k, v in entry.items() if k != "timings_ms"}
    if "passes" in out:
        out["passes"] = [{k: v for k, v in p.items() if k != "engine_ms"} for p in out["passes"]]
    return out


def results(resp) -> list[dict]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert list(body) == ["results"]
    return body["results"]


class TestSameAsSingleRequests:
    def test_ten_images_in_one_json_request_give_the_faces_of_ten_single_requests(self, client, ten_photos):
        singles = [single(client, "/v1/detect", data) for data in ten_photos]
        batch = results(client.post("/v1/detect", json={"images": [B64(d) for d in ten_photos]}))
        assert len(batch) == 10
        assert [without_timings(e) for e in batch] == [without_timings(s) for s in singles]
        assert sum(e["count"] for e in batch) > 50  # crowds included: the comparison is not of empty lists
        assert all(set(e["timings_ms"]) >= {"decode", "inference", "total"} for e in batch)

    def test_multipart_files_and_shared_parameters(self, client, ten_photos):
        query = "?threshold=0.7&max_faces=3"
        singles = [single(client, "/v1/detect", data, query) for data in ten_photos]
        files = [(io.BytesIO(data), f"photo{i}.jpg") for i, data in enumerate(ten_photos)]
        batch = results(client.post("/v1/detect", data={"images": files, "threshold": "0.7"},
                                    query_string={"max_faces": 3}))
        assert [without_timings(e) for e in batch] == [without_timings(s) for s in singles]
        assert all(e["count"] <= 3 and all(f["score"] >= 0.7 for f in e["faces"]) for e in batch)

    def test_align_batch_carries_each_images_crops(self, client, ten_photos):
        photos = ten_photos[:4]
        singles = [single(client, "/v1/align", data, "?size=128&format=jpeg") for data in photos]
        batch = results(client.post("/v1/align", json={"images": [B64(d) for d in photos], "size": 128,
                                                       "format": "jpeg"}))
        assert [without_timings(e) for e in batch] == [without_timings(s) for s in singles]
        assert all(f["aligned"]["size"] == 128 for e in batch for f in e["faces"])

    @pytest.mark.parametrize("in_flight", [1, 2, 7])
    def test_order_is_kept_whatever_runs_at_once(self, app_factory, ten_photos, in_flight):
        client = app_factory(performance__batch_in_flight=in_flight)
        photos = ten_photos[::-1]
        batch = results(client.post("/v1/detect", json={"images": [B64(d) for d in photos]}))
        expected = [single(client, "/v1/detect", data)["image"] for data in photos]
        assert [e["image"] for e in batch] == expected

    def test_a_batch_of_one_is_still_a_list(self, client, ten_photos):
        batch = results(client.post("/v1/detect", json={"images": [B64(ten_photos[0])]}))
        assert len(batch) == 1 and batch[0]["count"] == 6


class TestBadImages:
    def test_a_bad_image_in_the_middle_fails_only_its_own_entry(self, client, ten_photos):
        photos = list(ten_photos[:5])
        images = [B64(d) for d in photos]
        images.insert(2, B64(b"this is not an image"))
        batch = results(client.post("/v1/detect", json={"images": images}))
        assert len(batch) == 6
        assert batch[2] == {"error": {"code": "invalid_image", "message": batch[2]["error"]["message"]}}
        singles = [without_timings(single(client, "/v1/detect", d)) for d in photos]
        assert [without_timings(e) for i, e in enumerate(batch) if i != 2] == singles

    def test_each_kind_of_bad_entry_is_its_own_error(self, app_factory, ten_photos):
        client = app_factory(limits__max_image_pixels=2_000_000)  # t1 (1.1 MP) passes, selfie (2.4 MP) does not
        t1, selfie = ten_photos[0], ten_photos[1]
        batch = results(client.post("/v1/detect", json={"images": [
            B64(t1), "not base64!", 42, B64(selfie), "data:image/jpeg;base64," + B64(t1), B64(t1[:2000])]}))
        codes = [e["error"]["code"] if "error" in e else e["count"] for e in batch]
        assert codes == [6, "invalid_base64", "bad_request", "image_too_large", 6, "invalid_image"]
        assert "images[2]" in batch[2]["error"]["message"]

    def test_an_empty_file_fails_only_its_entry(self, client, ten_photos):
        files = [(io.BytesIO(ten_photos[0]), "a.jpg"), (io.BytesIO(b""), "empty.jpg"),
                 (io.BytesIO(ten_photos[0]), "c.jpg")]
        batch = results(client.post("/v1/align", data={"images": files}))
        assert [e.get("count", e.get("error", {}).get("code")) for e in batch] == [6, "missing_image", 6]


class TestCapsAndShape:
    def test_more_images_than_the_limit_is_400_naming_it(self, app_factory, ten_photos):
        client = app_factory(limits__max_batch_images=3)
        for resp in (client.post("/v1/detect", json={"images": [B64(ten_photos[0])] * 4}),
                     client.post("/v1/align", data={"images": [(io.BytesIO(ten_photos[0]), f"{i}.jpg")
                                                               for i in range(4)]})):
            assert resp.status_code == 400
            error = resp.get_json()["error"]
            assert error["code"] == "batch_too_large" and "limits.max_batch_images is 3" in error["message"]
        assert len(results(client.post("/v1/detect", json={"images": [B64(ten_photos[0])] * 3}))) == 3

    def test_default_limit_is_16(self, client, ten_photos):
        resp = client.post("/v1/detect", json={"images": ["AAAA"] * 17})
        assert resp.status_code == 400 and "limits.max_batch_images is 16" in resp.get_json()["error"]["message"]

    def test_a_body_over_the_size_limit_is_413_naming_it(self, app_factory, ten_photos):
        client = app_factory(server__max_body_mb=0.5)
        for resp in (client.post("/v1/detect", json={"images": [B64(d) for d in ten_photos]}),
                     client.post("/v1/detect", data={"images": [(io.BytesIO(d), "x.jpg") for d in ten_photos]})):
            assert resp.status_code == 413
            error = resp.get_json()["error"]
            assert error["code"] == "payload_too_large" and "0.5 MiB" in error["message"]

    @pytest.mark.parametrize("body, code", [
        ({"images": []}, "bad_request"),
        ({"images": "AAAA"}, "bad_request"),
        ({"images": ["AAAA"], "image": "AAAA"}, "bad_request"),
        ({"images": ["AAAA"], "size": 112}, "invalid_parameter"),  # an align parameter on /v1/detect
        ({"images": ["AAAA"], "threshold": 2}, "invalid_parameter"),
    ])
    def test_malformed_batches_are_400(self, client, body, code):
        resp = client.post("/v1/detect", json=body)
        assert resp.status_code == 400 and resp.get_json()["error"]["code"] == code

    def test_multipart_image_and_images_together_or_image_repeated_are_400(self, client, ten_photos):
        t1 = ten_photos[0]
        resp = client.post("/v1/detect", data={"images": (io.BytesIO(t1), "a.jpg"), "image": (io.BytesIO(t1), "b")})
        assert resp.status_code == 400 and "'images'" in resp.get_json()["error"]["message"]
        resp = client.post("/v1/detect", data={"image": [(io.BytesIO(t1), "a.jpg"), (io.BytesIO(t1), "b.jpg")]})
        assert resp.status_code == 400 and "'images'" in resp.get_json()["error"]["message"]

    @pytest.mark.parametrize("files", ["image", "images"])
    def test_a_query_value_the_form_overrides_must_still_be_valid(self, client, ten_photos, files):
        data = {files: (io.BytesIO(ten_photos[0]), "a.jpg"), "mode": "fast"}
        resp = client.post("/v1/detect?mode=sideways", data=data)
        assert resp.status_code == 400 and "'mode'" in resp.get_json()["error"]["message"]
        data = {files: (io.BytesIO(ten_photos[0]), "a.jpg"), "threshold": "0.9"}
        resp = client.post("/v1/detect?threshold=0.1", data=data)  # both valid: the form's value wins
        body = resp.get_json()
        faces = body["results"][0]["faces"] if files == "images" else body["faces"]
        assert faces and all(f["score"] >= 0.9 for f in faces)

    def test_batch_images_count_in_the_metrics(self, app_factory, ten_photos):
        client = app_factory()
        client.post("/v1/detect", json={"images": [B64(d) for d in ten_photos[:3]] + ["AAAA"]})
        text = client.get("/metrics").get_data(as_text=True)
        line = next(li for li in text.splitlines() if li.startswith("hailo_scrfd_faces_per_image_count"))
        assert float(line.split()[-1]) >= 3
