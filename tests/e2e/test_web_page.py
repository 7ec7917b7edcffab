"""The web page in a real headless Chromium (Debian's), driven by Playwright, against a real `serve` process.

Full-page screenshots are saved under $TMPDIR/hailo-scrfd-artifacts/ for a person to look at.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from hailo_scrfd.http import ui

from support.server import ServerProcess

pytestmark = pytest.mark.e2e

BOX_RGB = (86, 180, 233)
STRICT_CSP = "default-src 'none'; frame-ancestors 'none'"
MARKUP_NAME = '<img src=x onerror="window.__pwned=1"><b>bold</b>.jpg'
ARTIFACTS = Path(os.environ.get("TMPDIR", "/tmp")) / "hailo-scrfd-artifacts"


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        message = "Debian's chromium is not installed (apt-get install chromium); .ci/run installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra)")
    with sync_api.sync_playwright() as pw:
        # The fake camera gives getUserMedia a test pattern; no browser download (executable_path).
        chrome = pw.chromium.launch(executable_path=path, args=[
            "--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"])
        yield chrome
        chrome.close()


@pytest.fixture(scope="module")
def keyed_server(model_path, tmp_path_factory):
    folder = tmp_path_factory.mktemp("keyed")
    (folder / "keys").write_text("page-test-key\n")
    (folder / "config.yaml").write_text(f"security:\n  api_keys_file: {folder / 'keys'}\n")
    srv = ServerProcess(model_path, "--config", str(folder / "config.yaml"))
    try:
        srv.wait_ready()  # /health stays public by default with keys on
        yield srv
    finally:
        srv.stop()


class Page:
    """One browser tab with the console, page errors and every request recorded."""

    def __init__(self, browser, base_url: str, **context_args):
        self.context = browser.new_context(**{"viewport": {"width": 1280, "height": 900},
                                              "device_scale_factor": 2, **context_args})
        self.page = self.context.new_page()
        self.base_url = base_url
        self.console: list[str] = []
        self.requests: list = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r))
        self.posts: list[tuple[str, bytes]] = []  # (url, body) of each API POST, as it went on the wire
        self.page.route("**/v1/**", self._capture)

    def _capture(self, route) -> None:
        # Intercepting is what makes Chromium hand over a multipart body with a file part.
        if route.request.method == "POST":
            self.posts.append((route.request.url, route.request.post_data_buffer or b""))
        route.continue_()

    def open(self, path: str = "/"):
        response = self.page.goto(self.base_url + path)
        if path == "/":
            self.page.wait_for_selector("body[data-state=ready]")
        return response

    def finished(self) -> int:
        return int(self.page.get_attribute("body", "data-finished") or 0)

    def run(self, action) -> None:
        """Do ``action`` and wait until the page has finished the request it starts."""
        before = self.finished()
        action()
        self.page.wait_for_function("(n) => Number(document.body.dataset.finished || 0) > n", arg=before,
                                    timeout=60_000)

    def upload(self, name: str, data: bytes, mime: str = "image/jpeg") -> None:
        self.run(lambda: self.page.set_input_files("#file", files=[{"name": name, "mimeType": mime, "buffer": data}]))

    def overlay(self) -> dict:
        return json.loads(self.page.text_content("#overlay-data"))

    def canvas_pixels(self) -> np.ndarray:
        url = self.page.eval_on_selector("#view", "c => c.toDataURL('image/png')")
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()
        # The browser logs each 4xx answer as "Failed to load resource"; the tests check those answers themselves.
        problems = [m for m in self.console if m.startswith(("error", "pageerror"))
                    and "Failed to load resource: the server responded with a status of 4" not in m]
        assert not problems, problems  # a CSP violation or a script error shows here


@pytest.fixture
def tab(browser, server):
    page = Page(browser, server.url)
    yield page
    page.close()


def detect(url: str, data: bytes, name: str = "photo.jpg", **fields) -> requests.Response:
    return requests.post(url + "/v1/detect", files={"image": (name, data)}, data=fields, timeout=60)


def assert_boxes_match(overlay: dict, expected: dict) -> None:
    assert overlay["image"] == expected["image"]
    assert len(overlay["faces"]) == len(expected["faces"])
    for drawn, face in zip(overlay["faces"], expected["faces"], strict=True):
        np.testing.assert_allclose(drawn["image_box"], face["bbox"], atol=1.0)
        assert drawn["score"] == face["score"]


def box_colour_near(pixels: np.ndarray, x: float, y: float, reach: int = 2) -> bool:
    cx, cy = int(round(x)), int(round(y))
    patch = pixels[max(cy - reach, 0):cy + reach + 1, max(cx - reach, 0):cx + reach + 1].reshape(-1, 3).astype(int)
    return bool((np.abs(patch - BOX_RGB).max(axis=1) < 40).any())


@pytest.mark.parametrize("name", ["t1.jpg", "solvay_conference_1927.png", "s_l.jpg"])
def test_drawn_boxes_match_the_detect_json(tab, server, shared, name):
    data = (shared / "images" / name).read_bytes()
    tab.open()
    tab.page.uncheck("#align")  # the same endpoint as the reference call below
    tab.upload(name, data, "image/png" if name.endswith(".png") else "image/jpeg")
    expected = detect(server.url, data, name).json()
    overlay = tab.overlay()
    assert_boxes_match(overlay, expected)
    assert tab.page.text_content("#status").startswith(f"{expected['count']} face")
    # HiDPI: the canvas has two device pixels per CSS pixel.
    css_width = tab.page.eval_on_selector("#view", "c => c.getBoundingClientRect().width")
    assert overlay["dpr"] == 2 and abs(overlay["canvas"]["width"] - 2 * css_width) <= 1
    # The boxes really are on the canvas where the data says: the box colour at each side's middle.
    pixels = tab.canvas_pixels()
    sides = 0
    for face in overlay["faces"]:
        x, y, w, h = face["canvas_box"]
        for px, py in ((x, y + h / 2), (x + w, y + h / 2), (x + w / 2, y + h)):
            sides += box_colour_near(pixels, px, py)
    assert sides >= 0.95 * 3 * len(overlay["faces"])  # a later face's label may cover an edge in a crowd
    rows = tab.page.locator("#faces tbody tr")
    assert rows.count() == expected["count"]
    tab.screenshot(f"page-{Path(name).stem}")


def test_exif_rotated_photo_is_drawn_upright(tab, server, shared):
    photo = Image.open(shared / "images" / "t1.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=92, exif=exif)
    data = buf.getvalue()
    tab.open()
    tab.page.uncheck("#align")
    tab.upload("rotated.jpg", data)
    expected = detect(server.url, data).json()
    assert expected["image"] == {"width": 886, "height": 1280}
    overlay = tab.overlay()
    assert_boxes_match(overlay, expected)
    assert tab.page.is_hidden("#notice")  # the browser's picture has the API's size: no rescaling notice
    # The drawn picture is the upright photo, not the stored one squeezed into the upright frame.
    pixels = tab.canvas_pixels().astype(np.float32)
    upright = np.asarray(photo.transpose(Image.Transpose.ROTATE_270).resize(pixels.shape[1::-1]), np.float32)
    squeezed = np.asarray(photo.resize(pixels.shape[1::-1]), np.float32)
    assert np.abs(pixels - upright).mean() < 12 < np.abs(pixels - squeezed).mean()
    tab.screenshot("page-exif-rotated")


def test_a_file_that_is_not_an_image_shows_the_api_error(tab, server):
    data = b"this is a text file, not a photo\n" * 20
    tab.open()
    tab.upload("notes.txt", data, "text/plain")
    expected = detect(server.url, data, "notes.txt")
    assert expected.status_code == 422
    assert tab.page.is_visible("#error")
    assert tab.page.text_content("#error-message") == expected.json()["error"]["message"]
    assert tab.page.text_content("#error-code") == "invalid_image"
    assert "422" in tab.page.text_content("#error-status")
    assert tab.page.get_attribute("body", "data-state") == "error"
    assert tab.page.is_hidden("#stage") and tab.page.is_hidden("#faces-box")
    tab.screenshot("page-not-an-image")


def test_a_file_name_with_markup_is_shown_as_text(tab, shared):
    tab.open()
    tab.upload(MARKUP_NAME, (shared / "images" / "s_l.jpg").read_bytes())
    assert tab.page.text_content("#file-name") == MARKUP_NAME
    assert tab.page.locator("#file-name *").count() == 0
    assert tab.page.locator("img[src=x], b").count() == 0
    assert tab.page.evaluate("window.__pwned") is None
    tab.screenshot("page-markup-name")


def test_api_key_is_asked_for_kept_in_the_session_and_sent_only_here(browser, keyed_server, shared):
    tab = Page(browser, keyed_server.url)
    try:
        response = tab.open()
        assert response.status == 200  # the page itself needs no key
        data = (shared / "images" / "s_l.jpg").read_bytes()
        tab.upload("s_l.jpg", data)
        assert tab.page.text_content("#error-code") == "unauthorized"
        unauthorized = requests.post(keyed_server.url + "/v1/detect", files={"image": data}, timeout=30).json()
        assert tab.page.text_content("#error-message") == unauthorized["error"]["message"]
        assert tab.page.get_attribute("#key-box", "open") is not None  # opened for the user
        tab.page.fill("#api-key", "page-test-key")
        tab.run(lambda: tab.page.click("#run"))
        assert tab.page.is_hidden("#error") and tab.page.text_content("#status").startswith("2 faces")
        assert tab.page.evaluate("sessionStorage.getItem('hailo-scrfd.api-key')") == "page-test-key"
        assert tab.page.evaluate("localStorage.length") == 0
        # A call to another origin is refused before any request leaves (and so is never given the key).
        refused = tab.page.evaluate("""async () => {
            const m = await import('/ui/app.js');
            try { await m.apiFetch('http://127.0.0.2:9/v1/detect'); return 'sent'; } catch (e) { return e.message; }
        }""")
        assert "another origin" in refused
        tab.page.reload()
        tab.page.wait_for_selector("body[data-state=ready]")
        assert tab.page.input_value("#api-key") == "page-test-key"  # kept for this tab's session
        tab.screenshot("page-api-key")
        keyed = [r for r in tab.requests if r.headers.get("authorization")]
        assert keyed and all(r.url.startswith(keyed_server.url + "/") for r in keyed)
        assert all(r.url.startswith((keyed_server.url + "/", "data:", "blob:")) for r in tab.requests)
    finally:
        tab.context.close()
    other = Page(browser, keyed_server.url)  # a new session starts with no key
    try:
        other.open()
        assert other.page.input_value("#api-key") == ""
    finally:
        other.close()


def declared_params(url: str) -> set[str]:
    """The request parameter names /v1/detect declares in the server's OpenAPI document."""
    op = requests.get(url + "/openapi.json", timeout=10).json()["paths"]["/v1/detect"]["post"]
    return {p["name"] for p in op.get("parameters", [])} | {
        name for media in op["requestBody"]["content"].values() for name in media["schema"].get("properties", {})}


def test_mode_and_quality_are_offered_only_when_the_server_declares_them(tab, server, shared):
    declared = declared_params(server.url)
    tab.open()
    tab.page.uncheck("#align")
    assert tab.page.is_visible("#quality") == ("quality" in declared)
    data = (shared / "images" / "t1.jpg").read_bytes()
    if "mode" in declared:
        tab.page.select_option("#mode", "full")
        tab.upload("t1.jpg", data)
        assert_boxes_match(tab.overlay(), detect(server.url, data, mode="full").json())
        tab.page.select_option("#mode", "fast")
        tab.run(lambda: tab.page.click("#run"))
        assert_boxes_match(tab.overlay(), detect(server.url, data, mode="fast").json())
        assert [b'name="mode"\r\n\r\nfull' in body for _, body in tab.posts] == [True, False]
    else:
        assert tab.page.is_disabled("#mode") and "does not take" in tab.page.text_content("#mode-help")
        tab.upload("t1.jpg", data)
        assert tab.posts and all(b'name="image"' in body and b'name="mode"' not in body for _, body in tab.posts)
        # Today's server answers 400 to an unknown parameter, so matching faces also proves none was sent.
        assert_boxes_match(tab.overlay(), detect(server.url, data).json())


def sideways_jpeg(path: Path) -> bytes:
    """The photo with its pixels turned 90 degrees and no EXIF orientation: what a sideways scan or export is."""
    buf = io.BytesIO()
    Image.fromarray(np.rot90(np.asarray(Image.open(path).convert("RGB")))).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def test_rotations_finds_the_faces_of_a_sideways_photo(tab, server, shared):
    assert "rotations" in declared_params(server.url)
    data = sideways_jpeg(shared / "images" / "t1.jpg")
    tab.open()
    tab.page.uncheck("#align")
    assert tab.page.locator("#rotations option").evaluate_all("os => os.map(o => o.value)") == [
        "", "none", "auto", "all"]
    assert "sideways" in tab.page.text_content("#rotations-help")
    tab.upload("sideways.jpg", data)  # server default: upright only, the lying faces score low or are missed
    upright_only = detect(server.url, data).json()
    assert_boxes_match(tab.overlay(), upright_only)
    tab.page.select_option("#rotations", "auto")
    tab.run(lambda: tab.page.click("#run"))
    turned = detect(server.url, data, rotations="auto").json()
    assert turned["count"] == 6 > upright_only["count"]
    assert_boxes_match(tab.overlay(), turned)
    assert tab.page.text_content("#status").startswith("6 faces")
    assert any(p["name"].startswith("rot") for p in json.loads(tab.page.text_content("#raw"))["passes"])
    assert [b'name="rotations"\r\n\r\nauto' in body for _, body in tab.posts] == [False, True]
    assert b'name="rotations"' not in tab.posts[0][1]  # the server default sends nothing
    tab.screenshot("page-rotations")


def test_rotations_is_not_offered_when_the_server_does_not_declare_it(tab, server, shared):
    spec = requests.get(server.url + "/openapi.json", timeout=10).json()
    for item in spec["paths"].values():
        for op in item.values():
            op["parameters"] = [p for p in op.get("parameters", []) if p.get("name") != "rotations"]
            for media in op.get("requestBody", {}).get("content", {}).values():
                media.get("schema", {}).get("properties", {}).pop("rotations", None)
    tab.page.route("**/openapi.json", lambda route: route.fulfill(json=spec))  # an older server's document
    tab.open()
    assert tab.page.is_disabled("#rotations") and "does not take" in tab.page.text_content("#rotations-help")
    assert tab.page.is_enabled("#mode")
    tab.page.uncheck("#align")
    tab.upload("t1.jpg", (shared / "images" / "t1.jpg").read_bytes())
    assert tab.posts and all(b'name="rotations"' not in body for _, body in tab.posts)


def test_aligned_crops_faces_timings_and_raw_json(tab, server, shared):
    tab.open()
    tab.page.fill("#align-size", "224")
    tab.page.select_option("#align-format", "jpeg")
    tab.page.fill("#threshold", "0.6")
    tab.upload("t1.jpg", (shared / "images" / "t1.jpg").read_bytes())
    crops = tab.page.locator("#crops img")
    assert crops.count() == 6
    # data: URLs decode asynchronously: wait for every crop rather than read the first at once
    tab.page.wait_for_function("() => [...document.querySelectorAll('#crops img')]"
                               ".every(i => i.complete && i.naturalWidth === 224)", timeout=10_000)
    assert tab.page.get_attribute("#crops img >> nth=0", "src").startswith("data:image/jpeg;base64,")
    timings = tab.page.locator("#timings dt").all_text_contents()
    assert {"inference", "align", "total"} <= set(timings)
    raw = tab.page.text_content("#raw")
    assert '"count": 6' in raw and "base64 characters" in raw
    url, body = tab.posts[0]
    assert url == server.url + "/v1/align"
    assert b'name="threshold"\r\n\r\n0.6' in body and b'name="size"\r\n\r\n224' in body
    assert b'name="max_faces"' not in body  # blank fields leave the server's defaults
    tab.page.click("#copy-raw")
    tab.page.wait_for_function("() => document.getElementById('copy-status').textContent !== ''")
    tab.screenshot("page-align")


def test_drop_and_paste(tab, server, shared):
    data = (shared / "images" / "s_l.jpg").read_bytes()
    expected = detect(server.url, data).json()
    tab.open()
    tab.page.uncheck("#align")
    script = """([kind, b64]) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], kind + '.jpg', {type: 'image/jpeg'}));
        const event = kind === 'drop'
            ? new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true})
            : new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true});
        (kind === 'drop' ? document.getElementById('drop') : document.body).dispatchEvent(event);
    }"""
    for kind in ("drop", "paste"):
        tab.run(lambda kind=kind: tab.page.evaluate(script, [kind, base64.b64encode(data).decode()]))
        assert tab.page.text_content("#file-name") == f"{kind}.jpg"
        assert_boxes_match(tab.overlay(), expected)


def test_webcam_snapshot(tab):
    tab.open()
    tab.page.uncheck("#align")
    tab.page.click("#camera-start")
    tab.page.wait_for_selector("#camera-snap:visible")
    tab.page.wait_for_function("() => document.getElementById('video').videoWidth > 0")
    tab.run(lambda: tab.page.click("#camera-snap"))
    width, height = tab.page.evaluate("[document.getElementById('video').videoWidth, "
                                      "document.getElementById('video').videoHeight]")
    assert tab.overlay()["image"] == {"width": width, "height": height}
    assert tab.page.text_content("#file-name").startswith("camera-")
    tab.screenshot("page-webcam")
    tab.page.click("#camera-stop")
    assert tab.page.is_hidden("#video")


def open_chooser_with_enter(tab, attempts: int = 3):
    """Enter on the focused drop zone opens the file chooser. On a loaded machine Chromium once in a while
    drops the first key event (it arrives before the chooser interception is in place): press it again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        tab.page.focus("#drop")
        try:
            with tab.page.expect_file_chooser(timeout=10_000) as chooser:
                tab.page.keyboard.press("Enter")
            return chooser.value
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def test_keyboard_labels_and_200_percent_zoom(browser, server, shared):
    # A 1280 px wide window at 200 % zoom lays out like a 640 px viewport at twice the pixel density.
    tab = Page(browser, server.url, viewport={"width": 640, "height": 900}, device_scale_factor=2)
    try:
        tab.open()
        unlabelled = tab.page.evaluate("""() => [...document.querySelectorAll('input, select, button, textarea')]
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.textContent.trim()).map(el => el.id)""")
        assert unlabelled == []
        chooser = open_chooser_with_enter(tab)
        tab.run(lambda: chooser.set_files(str(shared / "images" / "t1.jpg")))
        assert tab.page.text_content("#status").startswith("6 faces")
        assert tab.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        tab.page.focus("#threshold")
        tab.page.keyboard.type("0.9")
        tab.run(lambda: tab.page.keyboard.press("Enter"))  # submits the options form
        expected = detect(server.url, (shared / "images" / "t1.jpg").read_bytes(), threshold="0.9").json()["count"]
        assert tab.page.text_content("#status").startswith(f"{expected} face")
        tab.screenshot("page-zoom-200")
    finally:
        tab.close()


def test_csp_headers_and_docs(tab, server):
    response = tab.open()
    assert response.headers["content-security-policy"] == ui.UI_CSP
    assert requests.post(server.url + "/v1/detect", timeout=10).headers["Content-Security-Policy"] == STRICT_CSP
    assert requests.get(server.url + "/openapi.json", timeout=10).headers["Content-Security-Policy"] == STRICT_CSP
    docs = tab.open("/docs")
    assert docs.headers["content-security-policy"] == ui.UI_CSP
    tab.page.wait_for_selector(".opblock", timeout=30_000)
    paths = tab.page.locator(".opblock-summary-path").all_text_contents()
    assert "/v1/detect" in [p.strip() for p in paths]
    tab.screenshot("docs")
    assert all(r.url.startswith(server.url + "/") or r.url.startswith("data:") for r in tab.requests)
