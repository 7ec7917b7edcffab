"""WIDER FACE evaluation: the official protocol, in numpy."""
