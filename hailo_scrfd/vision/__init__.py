"""Pure numpy/OpenCV: image decoding, letterbox, SCRFD decode, `Detections`, alignment, quality, drawing. No Flask, no config."""
