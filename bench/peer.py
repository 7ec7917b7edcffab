"""The naive peer service: what a user would write first, as the throughput target's yardstick.

Flask's development server with ``threaded=True``, InsightFace's ``SCRFD`` (its own session
defaults) behind one ``RLock``, and the image as base64 in a JSON body. It runs from the
benchmark's own venv (``make bench-env``: insightface and flask), never from the project's:

    .bench/venv/bin/python bench/peer.py MODEL.onnx PORT
"""

import base64
import sys
import threading

import cv2
import numpy as np
from flask import Flask, jsonify, request
from insightface.model_zoo.scrfd import SCRFD


def create_app(model_path: str) -> Flask:
    detector = SCRFD(model_file=model_path)
    detector.prepare(-1, input_size=(640, 640))
    lock = threading.RLock()
    app = Flask(__name__)

    @app.get("/health")
    def health():
        return jsonify(status="ok")

    @app.post("/detect")
    def detect():
        data = base64.b64decode(request.get_json()["image"])
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        with lock:
            boxes, landmarks = detector.detect(image, input_size=(640, 640))
        faces = [{"bbox": box[:4].tolist(), "score": float(box[4]), "landmarks": points.tolist()}
                 for box, points in zip(boxes, landmarks, strict=True)]
        return jsonify(faces=faces)

    return app


if __name__ == "__main__":
    create_app(sys.argv[1]).run(host="127.0.0.1", port=int(sys.argv[2]), threaded=True)
