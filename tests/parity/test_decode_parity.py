"""Decode parity with the independent InsightFace reference, on every ../shared image and model export.

The reference leaves boxes that cross the image edge unclipped; this service clips
boxes to the image (landmarks are left alone), so the reference boxes are clipped the
same way before comparing.
"""

import numpy as np
import pytest

from ..conftest import MODEL_REFERENCE

BOX_TOL_PX = 0.5
KPS_TOL_PX = 0.5
SCORE_TOL = 1e-3

IMAGES = ["t1.jpg", "selfie.jpg", "solvay_conference_1927.png", "gauss.png", "newton.png", "s_l.jpg",
          "aligned_112_tom_hanks.png"]


def match(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """For each reference box, the index of our box with the nearest corners; must be one-to-one."""
    if len(theirs) == 0:
        return np.zeros(0, int)
    dist = np.abs(theirs[:, None, :] - ours[None, :, :]).max(axis=2)
    idx = dist.argmin(axis=1)
    assert len(set(idx.tolist())) == len(idx), "two reference faces matched the same detection"
    return idx


@pytest.mark.parametrize("image_name", IMAGES)
@pytest.mark.parametrize("model_file", list(MODEL_REFERENCE))
def test_matches_reference(model_file, image_name, model_factory, reference, load_image):
    expected = reference[MODEL_REFERENCE[model_file]][image_name]
    image = load_image(image_name)
    assert (image.shape[1], image.shape[0]) == (expected["width"], expected["height"])

    result = model_factory(model_file, onnx__input_mode="fixed").detect_faces(image)
    faces = expected["faces"]
    assert len(result.faces) == len(faces)
    if not faces:
        return
    ref_boxes = np.array([f["box"] for f in faces], np.float64)
    ref_boxes[:, [0, 2]] = ref_boxes[:, [0, 2]].clip(0, expected["width"])
    ref_boxes[:, [1, 3]] = ref_boxes[:, [1, 3]].clip(0, expected["height"])
    ref_kps = np.array([f["kps"] for f in faces], np.float64)
    ref_scores = np.array([f["score"] for f in faces], np.float64)

    idx = match(result.faces.xyxy, ref_boxes)
    assert np.abs(result.faces.xyxy[idx] - ref_boxes).max() <= BOX_TOL_PX
    assert np.abs(result.faces.landmarks[idx] - ref_kps).max() <= KPS_TOL_PX
    assert np.abs(result.faces.scores[idx] - ref_scores).max() <= SCORE_TOL
    assert (np.diff(result.faces.scores) <= 0).all(), "faces must be sorted by score"


def test_renamed_export_gives_identical_faces(model_factory, load_image):
    """Outputs are mapped by shape, so two exports of the same weights agree exactly."""
    image = load_image("t1.jpg")
    a = model_factory("scrfd_2.5g_bnkps.onnx").detect_faces(image).faces
    b = model_factory("scrfd_2.5g_bnkps_renamed_io.onnx").detect_faces(image).faces
    np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-3)
    np.testing.assert_allclose(a.landmarks, b.landmarks, atol=1e-3)
