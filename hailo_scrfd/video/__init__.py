"""Video: streams read from a source, pushed-frame tracking sessions, face tracks and their best shots.

Above ``pipeline`` (each frame's faces come from it) and below ``http`` (which parses, fences and serves)."""
