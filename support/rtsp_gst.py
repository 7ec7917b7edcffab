"""An RTSP server for the tests: GStreamer's reference server (Debian's gir1.2-gst-rtsp-server-1.0), serving one
H.264 MP4 as RTP/H.264, like a camera, at the file's own frame rate on 127.0.0.1. Run by the system Python, which
has Debian's PyGObject (``/usr/bin/python3 rtsp_gst.py FILE MOUNT``); it prints ``port N`` once it listens.
No transcoding: qtdemux and h264parse hand the encoded frames to rtph264pay as they are."""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def main(path: str, mount: str) -> None:
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service("0")  # any free port; the bound one is printed
    factory = GstRtspServer.RTSPMediaFactory()
    location = path.replace("\\", "\\\\").replace('"', '\\"')
    factory.set_launch(f'( filesrc location="{location}" ! qtdemux ! h264parse '
                       '! rtph264pay name=pay0 pt=96 config-interval=-1 )')
    factory.set_shared(True)  # every client sees the same clip, as with a camera
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)  # interleaved: the service asks for TCP
    server.get_mount_points().add_factory(mount, factory)
    if server.attach(None) == 0:
        sys.exit("could not listen on 127.0.0.1")
    print(f"port {server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
