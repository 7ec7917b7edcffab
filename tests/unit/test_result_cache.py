"""The result cache on its own: bounded by bytes, by age, emptied by a new engine, keyed by scope, one
computation for concurrent identical requests, none held back by another photo's."""

from __future__ import annotations

import threading

import pytest

from hailo_scrfd.pipeline import cache as cache_mod
from hailo_scrfd.pipeline.cache import ResultCache


def size_of(value) -> int:
    return len(value)


def test_a_hit_returns_what_the_miss_stored():
    cache = ResultCache(1000, 60)
    key = cache.key(b"photo", "", "engine", "options")
    assert cache.get_or_compute(key, lambda: "faces", size_of) == ("faces", False)
    assert cache.get_or_compute(key, lambda: pytest.fail("computed again"), size_of) == ("faces", True)
    assert cache.status()["hits"] == 1 and cache.status()["misses"] == 1


def test_eviction_is_by_bytes_least_recently_used_first():
    cache = ResultCache(100, 60)
    keys = [cache.key(bytes([i]), "", "engine") for i in range(4)]
    for key in keys[:3]:
        cache.get_or_compute(key, lambda: "x" * 40, size_of)  # 120 bytes asked of 100: the first goes
    assert cache.get(keys[0]) is None and cache.get(keys[1]) and cache.get(keys[2])
    cache.get(keys[1])  # now the most recently used
    cache.get_or_compute(keys[3], lambda: "y" * 40, size_of)
    assert cache.get(keys[2]) is None and cache.get(keys[1]) and cache.get(keys[3])
    assert cache.status()["evictions"] == 2 and cache.status()["bytes"] == 80
    cache.get_or_compute(cache.key(b"big", "", "engine"), lambda: "z" * 101, size_of)  # larger than the cache
    assert cache.status()["bytes"] == 80


def test_entries_expire(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(cache_mod.time, "monotonic", lambda: now[0])
    cache = ResultCache(1000, 10)
    key = cache.key(b"photo", "", "engine")
    cache.get_or_compute(key, lambda: "faces", size_of)
    now[0] += 9.9
    assert cache.get(key) == "faces"
    now[0] += 0.2
    assert cache.get(key) is None and cache.status()["bytes"] == 0


def test_a_new_engine_empties_the_cache_and_scopes_do_not_share():
    cache = ResultCache(1000, 60)
    key = cache.key(b"photo", "", "npu")
    cache.get_or_compute(key, lambda: "faces", size_of)
    assert cache.key(b"photo", "", "npu") == key and cache.get(key) == "faces"
    cache.key(b"photo", "", "cpu fallback")  # the engine changed
    assert cache.get(key) is None and cache.status()["entries"] == 0
    alice, bob = cache.key(b"photo", "alice-key", "cpu"), cache.key(b"photo", "bob-key", "cpu")
    assert alice != bob


def test_concurrent_identical_requests_compute_once_and_others_are_not_held():
    cache = ResultCache(1000, 60)
    started, release, calls = threading.Event(), threading.Event(), []

    def slow():
        calls.append(1)
        started.set()
        assert release.wait(10)
        return "faces"

    key = cache.key(b"photo", "", "engine")
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_compute(key, slow, size_of)))
               for _ in range(4)]
    threads[0].start()
    assert started.wait(10)
    for t in threads[1:]:
        t.start()
    # Another photo is answered while the first is still being computed.
    assert cache.get_or_compute(cache.key(b"other", "", "engine"), lambda: "other", size_of) == ("other", False)
    release.set()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and sorted(results) == [("faces", False)] + [("faces", True)] * 3


def test_a_failed_computation_is_not_cached_and_followers_answer_for_themselves():
    cache = ResultCache(1000, 60)
    key = cache.key(b"photo", "", "engine")
    with pytest.raises(ValueError):
        cache.get_or_compute(key, lambda: (_ for _ in ()).throw(ValueError("bad image")), size_of)
    assert cache.get(key) is None
    assert cache.get_or_compute(key, lambda: "faces", size_of) == ("faces", False)


def test_off_means_no_key_and_no_memory():
    cache = ResultCache(0, 60)
    assert cache.key(b"photo", "", "engine") is None
    assert cache.get_or_compute(None, lambda: "faces", size_of) == ("faces", False)
    assert cache.status()["entries"] == 0
