"""Pure numpy/OpenCV image and face geometry: no Flask, no config objects, no threads."""
