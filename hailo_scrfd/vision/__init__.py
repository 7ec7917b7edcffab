"""Pure numpy/OpenCV: image decoding, letterbox, SCRFD decode, `Detections`, alignment, drawing. No Flask, no config."""
