"""An RTSP server for the tests: GStreamer's reference server (Debian's gir1.2-gst-rtsp-server-1.0) on 127.0.0.1,
serving either an H.264 MP4 as RTP/H.264 (most cameras) at the file's own rate, or numbered JPEG files
(``frame%03d.jpg``) as RTP/JPEG (RFC 2435, older and cheaper cameras) at FPS frames/s. No transcoding: the
encoded frames go to the payloader as they are. Run by the system Python, which has Debian's PyGObject:
``/usr/bin/python3 rtsp_gst.py SOURCE MOUNT FPS``; it prints ``port N`` once it listens."""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def launch(source: str, fps: int) -> str:
    location = source.replace("\\", "\\\\").replace('"', '\\"')
    if source.endswith(".mp4"):
        return (f'( filesrc location="{location}" ! qtdemux ! h264parse '
                '! rtph264pay name=pay0 pt=96 config-interval=-1 )')
    return (f'( multifilesrc location="{location}" index=0 caps="image/jpeg,framerate={fps}/1" ! jpegparse '
            '! rtpjpegpay name=pay0 pt=26 )')


def main(source: str, mount: str, fps: int) -> None:
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service("0")  # any free port; the bound one is printed
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch(source, fps))
    factory.set_shared(True)  # every client sees the same clip, as with a camera
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)  # interleaved: the service asks for TCP
    server.get_mount_points().add_factory(mount, factory)
    if server.attach(None) == 0:
        sys.exit("could not listen on 127.0.0.1")
    print(f"port {server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
