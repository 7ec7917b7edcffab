"""Request accounting for /health and Prometheus metrics for /metrics, from one place.

Each app gets its own CollectorRegistry (no global state), so several apps can live in
one process, as they do in the tests.
"""

from __future__ import annotations

import math
import threading
from collections import Counter as Tally

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .. import __version__
from ..pipeline.budget import MemoryBudget
from ..pipeline.cache import ResultCache
from ..runtime.model import SCRFDModel
from ..video.sessions import StreamManager
from ..system.thermal import soc_temperature_c

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
INFERENCE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0)
FACE_BUCKETS = (0, 1, 2, 3, 5, 10, 20, 50, 100, 200, 500)


class Metrics:
    def __init__(self, model: SCRFDModel, streams: StreamManager | None = None, budget: MemoryBudget | None = None):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("hailo_scrfd_requests_total", "HTTP requests by endpoint and status code",
                                ["endpoint", "status"], registry=r)
        self.latency = Histogram("hailo_scrfd_request_duration_seconds", "HTTP request latency",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.inference = Histogram("hailo_scrfd_inference_duration_seconds", "Engine time per image",
                                   buckets=INFERENCE_BUCKETS, registry=r)
        self.faces = Histogram("hailo_scrfd_faces_per_image", "Faces returned per image", buckets=FACE_BUCKETS,
                               registry=r)
        Gauge("hailo_scrfd_queue_depth", "Inference jobs waiting", registry=r).set_function(lambda: model.queue_depth)
        Gauge("hailo_scrfd_model_loaded", "1 when the model is loaded and serving", registry=r).set_function(
            lambda: 1.0 if model.ready else 0.0)
        Gauge("hailo_scrfd_backend_recoveries", "Times the backend was re-created after a fault",
              registry=r).set_function(lambda: model.recoveries)
        Gauge("hailo_scrfd_soc_temperature_celsius", "SoC temperature (NaN when unknown)", registry=r).set_function(
            lambda: _or_nan(soc_temperature_c()))
        Gauge("hailo_scrfd_fallback_seconds", "Seconds served on the CPU fallback since start (model.fallback)",
              registry=r).set_function(lambda: _fallback(model, "seconds_total"))
        Gauge("hailo_scrfd_fallback_active", "1 while the CPU fallback answers instead of the Hailo NPU",
              registry=r).set_function(lambda: float(_fallback(model, "active")))
        Info("hailo_scrfd_build", "Service version and model", registry=r).info(
            {"version": __version__, "model": model.name})
        self._tally: Tally[str] = Tally()
        self._lock = threading.Lock()
        self.started = self.finished = 0
        Gauge("hailo_scrfd_requests_in_flight", "HTTP requests being handled", registry=r).set_function(
            lambda: self.started - self.finished)
        if streams is not None:
            r.register(StreamCollector(streams))
        if budget is not None:
            self._watch_budget(budget)

    def watch_cache(self, cache: ResultCache) -> None:
        """The result cache's counters and size, read when /metrics is scraped."""
        r = self.registry
        for name, key, doc in (("hits", "hits", "Requests whose faces came from the result cache"),
                               ("misses", "misses", "Requests whose faces the engine found (cache on)"),
                               ("evictions", "evictions", "Results dropped for room or age")):
            Gauge(f"hailo_scrfd_cache_{name}", doc, registry=r).set_function(lambda key=key: cache.status()[key])
        Gauge("hailo_scrfd_cache_bytes", "Memory the cached results hold", registry=r).set_function(
            lambda: cache.status()["bytes"])

    def _watch_budget(self, budget: MemoryBudget) -> None:
        r = self.registry
        Gauge("hailo_scrfd_memory_budget_bytes", "Memory the images in flight may hold (limits.memory_budget_mb)",
              registry=r).set_function(lambda: budget.capacity)
        Gauge("hailo_scrfd_memory_in_use_bytes", "Memory held by the images in flight, as estimated at admission",
              registry=r).set_function(lambda: budget.in_use)
        Gauge("hailo_scrfd_memory_waiting", "Requests waiting for room in the memory budget",
              registry=r).set_function(lambda: budget.waiting)
        Gauge("hailo_scrfd_memory_refused", "Requests refused (503) for want of room in the memory budget",
              registry=r).set_function(lambda: budget.refused)

    def request_started(self) -> None:
        with self._lock:
            self.started += 1

    def request_finished(self) -> None:
        with self._lock:
            self.finished += 1

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)
        with self._lock:
            self._tally[str(status)] += 1

    def observe_detection(self, inference_ms: float, faces: int) -> None:
        self.inference.observe(inference_ms / 1000.0)
        self.faces.observe(faces)

    def request_counts(self) -> dict:
        with self._lock:
            by_status = dict(sorted(self._tally.items()))
        return {"total": sum(by_status.values()), "by_status": by_status}


def _fallback(model: SCRFDModel, key: str) -> float:
    status = getattr(model, "fallback_status", None)
    return float(status[key]) if status else 0.0


class StreamCollector:
    """Stream and track counts, frames processed and dropped, and lag, read from the manager at scrape time."""

    def __init__(self, streams: StreamManager):
        self.streams = streams

    def describe(self):
        return []

    def collect(self):
        s = self.streams.stats()
        gauges = (("streams_running", "Video streams running", s["running"]),
                  ("stream_clients", "Event (SSE) clients connected", s["clients"]),
                  ("tracking_sessions", "Pushed-frame tracking sessions open", s["sessions"]),
                  ("tracks_active", "Face tracks alive in running streams", s["tracks_active"]),
                  ("stream_lag_seconds", "Largest capture-to-event lag of the running streams' last frames",
                   s["lag_ms_max"] / 1000.0))
        for name, doc, value in gauges:
            yield GaugeMetricFamily(f"hailo_scrfd_{name}", doc, value=value)
        counters = (("stream_frames_processed", "Video frames detected and tracked", s["frames_processed"]),
                    ("stream_frames_dropped", "Video frames replaced by a newer one before processing",
                     s["frames_dropped"]),
                    ("tracks", "Face tracks ended (each with one best shot)", s["tracks_total"]),
                    ("streams", "Video streams opened", s["streams_total"]))
        for name, doc, value in counters:
            yield CounterMetricFamily(f"hailo_scrfd_{name}", doc, value=value)


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value
