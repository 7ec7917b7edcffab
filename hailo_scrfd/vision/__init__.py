"""Pure numpy/OpenCV vision code: no Flask, no config objects, no threads."""
