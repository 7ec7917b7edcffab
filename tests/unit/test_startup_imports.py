"""Start-up cost: serving must not import what only tracking needs (trackers pulls in supervision and SciPy,
0.45 s and 55 MB measured)."""

import subprocess
import sys

HEAVY = ("trackers", "supervision", "scipy")


def test_the_http_app_does_not_import_the_tracker_libraries():
    code = ("import sys, hailo_scrfd.http, hailo_scrfd.cli.serve; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "", f"imported at start-up: {out.stdout.strip()}"


def test_a_tracker_still_gets_them_and_tracks():
    code = ("import sys, numpy as np; from hailo_scrfd.video.tracking import FaceTracker; "
            "from hailo_scrfd.vision.detections import Detections; "
            "t = FaceTracker(min_frames=1); image = np.zeros((120, 160, 3), np.uint8); "
            "box = np.array([[40, 30, 90, 90]], np.float32); lm = np.full((1, 5, 2), 60, np.float32); "
            "[t.update(Detections(box, np.array([0.9], np.float32), lm), image, i, i / 30) for i in range(3)]; "
            f"print(','.join(m for m in {HEAVY[:2]!r} if m in sys.modules), t.active)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["trackers,supervision", "1"], out.stdout


def test_the_heic_decoder_is_imported_only_when_a_heic_arrives(tmp_path):
    """pillow-heif (libheif, libde265: +25-35 ms, +6.7 MB RSS) waits for the first HEIC/HEIF body."""
    import io

    from PIL import Image
    from pillow_heif import from_pillow

    heic = io.BytesIO()
    from_pillow(Image.new("RGB", (32, 24), (9, 99, 199))).save(heic, quality=90)
    (tmp_path / "x.heic").write_bytes(heic.getvalue())
    png = io.BytesIO()
    Image.new("RGB", (32, 24)).save(png, "PNG")
    (tmp_path / "x.png").write_bytes(png.getvalue())
    code = ("import sys, pathlib, hailo_scrfd.http, hailo_scrfd.cli.serve; "
            "from hailo_scrfd.vision.decode import decode_image; seen = ['pillow_heif' in sys.modules]; "
            f"d = pathlib.Path({str(tmp_path)!r}); decode_image((d / 'x.png').read_bytes(), max_pixels=10**6); "
            "seen.append('pillow_heif' in sys.modules); "
            "px = decode_image((d / 'x.heic').read_bytes(), max_pixels=10**6); "
            "print(*seen, 'pillow_heif' in sys.modules, px.shape == (24, 32, 3))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "False", "True", "True"], out.stdout
