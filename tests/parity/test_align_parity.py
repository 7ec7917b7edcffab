"""Alignment parity with the reference crops and matrices of t1.jpg."""

import json

import cv2
import numpy as np
import pytest

from hailo_scrfd.vision.align import estimate_transform, warp

MAD_TOL = 1.0
MATRIX_TOL = 1e-3


@pytest.fixture(scope="module")
def reference_faces(shared):
    return json.loads((shared / "reference" / "aligned_t1" / "transforms.json").read_text())["faces"]


def test_matrices_from_reference_landmarks(reference_faces):
    for face in reference_faces:
        np.testing.assert_allclose(estimate_transform(np.array(face["kps"]), 112), face["matrix_2x3"],
                                   atol=MATRIX_TOL, err_msg=f"face {face['face']}")


def test_crops_from_our_detections_match(reference_faces, model_factory, load_image, shared):
    image = load_image("t1.jpg")
    faces = model_factory(onnx__input_mode="fixed").detect_faces(image).faces
    assert len(faces) == len(reference_faces)
    for ref in reference_faces:
        ref_kps = np.array(ref["kps"])
        i = int(np.abs(faces.landmarks - ref_kps).reshape(len(faces), -1).max(axis=1).argmin())
        matrix = estimate_transform(faces.landmarks[i], 112)
        np.testing.assert_allclose(matrix, ref["matrix_2x3"], atol=MATRIX_TOL)
        crop = warp(image, matrix, 112)
        expected_bgr = cv2.imread(str(shared / "reference" / "aligned_t1" / f"face_{ref['face']}.png"))
        mad = np.abs(crop[:, :, ::-1].astype(np.float64) - expected_bgr).mean()
        assert mad <= MAD_TOL, f"face {ref['face']}: mean absolute difference {mad:.3f}"
