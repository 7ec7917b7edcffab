"""Pure numpy/OpenCV: image decoding, letterbox, SCRFD decode, `Detections`, alignment. No Flask, no config."""
