"""Sharpness of a face crop: the variance of its Laplacian, a standard focus measure (Pech-Pacheco et al., 2000).

Measured on the aligned crop, so faces of any size are compared at one scale. The best-shot choice of a
track ranks frames by it (times the detection score) until a fuller face-quality score replaces it.
"""

from __future__ import annotations

import cv2
import numpy as np


def laplacian_variance(rgb: np.ndarray) -> float:
    """Variance of the 3x3 Laplacian of the crop's luma; higher is sharper, a blurred crop scores near 0."""
    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_32F, ksize=3).var())
