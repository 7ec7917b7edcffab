"""Pure numpy/OpenCV: image decoding, letterbox, SCRFD decode, `Detections`, alignment, quality and
drawing. No Flask, no config objects, no threads."""
