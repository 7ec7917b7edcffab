"""The benchmark's tables: measures, per-photo ratios against the reference, and targets with their floors."""

from __future__ import annotations

import os
import statistics

from bench import ab, fresh
from bench.common import pct

JPEG = (".jpg", ".jpeg")


def latencies(samples: list[tuple[float, float | None]]) -> list[float]:
    return [latency for latency, _ in samples]


def print_all(model: str, quick: bool, local: dict, http: dict, photos: list[str],
              servers: dict[str, list[float]], held_out: int, installed: dict | None) -> None:
    in_h, in_w = local["input_hw"]
    print(f"hailo-scrfd benchmark  model={model}  backend={local['backend']}  input {in_w}x{in_h} for t1.jpg  "
          f"cores={os.cpu_count()}  {'QUICK MODE: numbers are indicative only' if quick else ''}")
    print()
    if installed:
        fresh.print_fresh(installed)
    else:
        print("fresh install: not measured in quick mode; every server below runs on the benchmark's own model dir")
    print()
    print_measures(local, http)
    print()
    ratios, floors = print_photos(http["photo_rows"], photos)
    print()
    print(f"RSS of the serving process after the load: {http['rss']:.0f} MB;  "
          f"start-up to ready: {http['startup_s']:.2f} s")
    print()
    print_ab(local["engine_ab"], servers, held_out)
    print()
    # HTTP against the reference's detect() alone (no decode), with its floor: the file's fastest decode here
    # plus our engine on it, over that detect().
    strict = {p: (row["strict"], (row["decode"] + row["engine"]) / row["detect"])
              for p, row in http["photo_rows"].items() if row["strict"] and p.lower().endswith(JPEG)}
    print_targets(local, http, ratios, floors, servers, strict, installed)


def print_measures(local: dict, http: dict) -> None:
    engine, in_process = local["engine"], local["in_process"]
    print(f"{'measure':44s}{'p50 ms':>9s}{'p95 ms':>9s}{'p99 ms':>9s}{'req/s':>9s}")
    print(f"{'engine, backend.infer (t1 input)':44s}{statistics.median(engine):9.1f}{pct(engine, 95):9.1f}"
          f"{pct(engine, 99):9.1f}{local['engine_rate']:9.1f}")
    print(f"{'in-process decode + detect_faces (t1)':44s}{statistics.median(in_process):9.1f}"
          f"{pct(in_process, 95):9.1f}{pct(in_process, 99):9.1f}{1000 / statistics.median(in_process):9.1f}")
    for c, (samples, rate) in http["levels"].items():
        lat = latencies(samples)
        print(f"{f'HTTP /v1/detect t1.jpg, {c} client(s)':44s}{statistics.median(lat):9.1f}{pct(lat, 95):9.1f}"
              f"{pct(lat, 99):9.1f}{rate:9.1f}")
    print(f"{'HTTP /v1/detect 12 MP JPEG, 1 client':44s}{statistics.median(lat for lat, *_ in http['big']):9.1f}")
    print(f"{'HTTP GET /health round trip, 1 client':44s}{http['round_trip']:9.2f}")
    trips = [trip for _, trip, _, _ in http["overhead"]]
    decodes = [decode * local["t1_decode_share"] for _, _, _, decode in http["overhead"]]
    print(f"{'the same, each just before a detect':44s}{statistics.median(trips):9.2f}")
    print(f"{'t1.jpg decode in those requests, fastest here':44s}{statistics.median(decodes):9.2f}"
          f"   (fastest decoder / ours, between engine runs: {local['t1_decode_share']:.2f})")
    stack = local["stack"]
    print(f"{'bare stack: GET round trip':44s}{stack['trip']:9.2f}")
    print(f"{'bare stack: t1 POST + engine inline - engine':44s}{stack['beyond_engine']:9.2f}")
    print(f"{'bare stack: 12 MP POST, drained (204)':44s}{stack['big_trip']:9.2f}")
    print("engine req/s: its maximum rate, one run at a time or as many in flight as the backend allows")


def _value(value: float) -> str:
    """A target row's value: three decimals for the small ratios, so that 0.052 never reads as 0.05."""
    return f"{value:8.3f}" if abs(value) < 1 else f"{value:8.2f}"


def _cell(value, width, fmt=".2f") -> str:
    return f"{value:{width}{fmt}}" if value is not None else f"{'n/a':>{width}s}"


def print_photos(rows: dict[str, dict], photos: list[str]) -> tuple[list[float], list[float]]:
    """One row per photo; returns the ratios and floors of the JPEG photos the reference measured."""
    print("reference: InsightFace SCRFD.detect() at 640x640, in-process, same ONNX file. file-to-faces = cv2.imread "
          "+ detect(), which like the HTTP path must decode the file; strict = against detect() alone. floor = "
          "(fastest decode of the file here + our engine on it) / ref file-to-faces: no server can do better. "
          "Each round times the HTTP request, the reference and the floor in turn; ratios are medians of the "
          "rounds' own ratios")
    print(f"{'photo':28s}{'HTTP p50':>9s}{'ref file':>9s}{'ref det':>9s}{'decode':>8s}{'engine':>8s}"
          f"{'ratio':>7s}{'strict':>8s}{'floor':>7s}")
    ratios, floors = [], []
    for p in photos:
        row = rows[p]
        if row["ratio"] and p.lower().endswith(JPEG):
            ratios.append(row["ratio"])
            floors.append(row["floor"])
        print(f"{p:28s}{row['http']:9.1f}{_cell(row['both'], 9, '.1f')}{_cell(row['detect'], 9, '.1f')}"
              f"{row['decode']:8.1f}{row['engine']:8.1f}{_cell(row['ratio'], 7)}{_cell(row['strict'], 8)}"
              f"{_cell(row['floor'], 7)}")
    return ratios, floors


def print_ab(engine: dict[str, list[float]], servers: dict[str, list[float]], held_out: int) -> None:
    """The A/B measures: FP32 against INT8 engine, and each server configuration's throughput."""
    fp32, int8 = statistics.median(engine["fp32"]), statistics.median(engine["int8"])
    pairs = statistics.median(b / a for a, b in zip(engine["fp32"], engine["int8"], strict=True))
    print(f"A/B, interleaved. engine on t1's input: FP32 {fp32:.1f} ms, INT8 {int8:.1f} ms; INT8 / FP32 run by "
          f"run: {pairs:.2f}")
    base = ab.default_server(servers)
    print(f"throughput at 8 clients on {held_out} held-out WIDER FACE photos, {len(servers[base])} rounds, "
          "each side in turn:")
    print(f"{'server':48s}{'req/s':>9s}{'/ default':>11s}")
    for name, rates in servers.items():
        print(f"{name:48s}{statistics.median(rates):9.1f}{ab.median_ratio(servers, name, base):11.2f}")


def _overhead(local: dict, http: dict) -> tuple[float, float, float]:
    """The overhead row: (ratio, ms, the ratio with floor parts from warm loops).

    The issue's measure: what remains beyond the floor (t1's fastest decode + a bare round trip), per engine
    time, request by request with each request's own engine time and the round trip just before it. Both
    floor parts are taken as a request pays them, between engine runs, as the bare stack's own floor is.
    """
    samples, share = http["overhead"], local["t1_decode_share"]
    beyond_ms = [lat - eng - decode * share - trip for lat, trip, eng, decode in samples]
    beyond = statistics.median(ms / eng for ms, (_, _, eng, _) in zip(beyond_ms, samples, strict=True))
    warm_floor = local["decode_floor"]["t1.jpg"] + http["round_trip"]
    warm = statistics.median((lat - eng - warm_floor) / eng for lat, eng in http["levels"][1][0])
    return beyond, statistics.median(beyond_ms), warm


def _targets(local: dict, http: dict, ratios: list[float], floors: list[float],
             servers: dict[str, list[float]], strict: dict[str, tuple], installed: dict | None) -> list[tuple]:
    """(name, value, target, op, floor) rows: the targets of the performance issues, this one's first."""
    levels, decode_floor, engine_at = http["levels"], local["decode_floor"], local["engine_at"]
    default, hand = ab.default_server(servers), list(ab.SERVERS)[1]
    later = [s for s, _ in installed["later"]] if installed else []
    start_s = statistics.median(later) if later else http["startup_s"]
    c1 = statistics.median(latencies(levels[1][0]))
    beyond, beyond_ms, warm = _overhead(local, http)
    big_floor = decode_floor["12 MP"] + engine_at["12 MP"] + local["stack"]["big_trip"]
    big_http = statistics.median(lat for lat, *_ in http["big"])
    # Each 12 MP request against its own floor: its decode (times the fastest decoder's share), its engine
    # run and the bare stack's round trip carrying the same 3.6 MB, so that the load of the moment hits both.
    big_ratio = statistics.median(lat / (decode * local["big_decode_share"] + eng + local["stack"]["big_trip"])
                                  for lat, _, eng, decode in http["big"])
    targets = [
        ("throughput at 8 clients / naive peer", ab.median_ratio(servers, default, ab.PEER), 3.0, ">=", None),
        ("fresh install / hand-calibrated INT8, 8 clients", ab.median_ratio(servers, default, hand)
         if default != hand else None, 0.95, ">=", None),
        ("HTTP p50 / reference in-process detect(), t1.jpg", *strict.get("t1.jpg", (None, None))[:1], 0.5, "<=",
         strict.get("t1.jpg", (None, None))[1]),
        ("the same, worst JPEG", max((v for v, _ in strict.values()), default=None), 0.5, "<=",
         max((f for _, f in strict.values()), default=None)),
        ("HTTP latency / reference file-to-faces, worst JPEG", max(ratios) if ratios else None, 0.7, "<=",
         max(floors) if floors else None),
        ("(HTTP - engine - floor) / engine, t1.jpg", beyond, 0.05, "<=",
         (local["stack"]["beyond_engine"] - local["stack"]["trip"]) / statistics.median(local["engine"])),
        ("HTTP - engine - floor, t1.jpg, ms", beyond_ms, None, "", None),
        ("the same ratio, bare face service (bench/stack.py)", local["stack"]["faces"], None, "", None),
        ("the same / engine, floor parts from warm loops", warm, None, "", None),
        ("throughput at 8 clients / engine max rate", levels[8][1] / local["engine_rate"], 0.9, ">=", None),
        ("12 MP JPEG end to end / its floor", big_ratio, 1.1, "<=", 1.0),
        ("12 MP JPEG / 1280-px JPEG, end to end", big_http / c1, 1.5, "<=", big_floor / c1),
        ("RSS of the serving process under load, MB", http["rss"], 250, "<=", None),
        ("start-up to ready" + (" (later starts of the fresh install)" if later else "") + ", s", start_s, 1.0,
         "<=", None),
    ]
    return targets


def print_targets(local: dict, http: dict, ratios: list[float], floors: list[float],
                  servers: dict[str, list[float]], strict: dict[str, tuple], installed: dict | None) -> None:
    targets = _targets(local, http, ratios, floors, servers, strict, installed)
    print(f"{'target':56s}{'value':>8s}{'target':>9s}{'floor':>8s}  result")
    for name, value, target, op, floor in targets:
        floor_cell = f"{floor:8.2f}" if floor is not None else f"{'':8s}"
        if value is None:
            print(f"{name:56s}{'n/a':>8s}{op + str(target):>9s}{floor_cell}  "
                  + ("not measured in quick mode" if name.startswith("fresh") else
                     "not measured: make bench-env installs the reference and the peer"))
            continue
        if target is None:  # printed for its breakdown only
            print(f"{name:56s}{_value(value)}{'':>9s}{floor_cell}  (no target: beside the row above)")
            continue
        ok = value <= target if op == "<=" else value >= target
        beyond = floor is not None and floor > target
        print(f"{name:56s}{_value(value)}{op + str(target):>9s}{floor_cell}  "
              f"{'met' if ok else 'NOT MET'}{' (the floor is past the target on this machine)' if beyond else ''}")
    print()
    print("floor: the best value this machine allows, from parts no serving code can remove. Worst photo: fastest "
          "decode + engine. Overhead: each request's own decode (times the fastest decoder's share of ours, timed "
          "between engine runs) plus the /health round trip just before it, subtracted request by request; its "
          "floor is what a bare Flask + cheroot app that only reads the body and runs the engine inline costs beyond "
          "its engine and its own round trip, measured the same way (bench/stack.py). The row below it takes both "
          "floor parts from warm loops instead (the measure of the earlier rounds), which counts the caches the "
          "engine run empties as overhead. 12 MP: each request's decode (times the fastest decoder's share) + its "
          "engine run + a round trip carrying its 3.6 MB on the bare stack (drained, 204), with nothing else; "
          "against t1's whole request for the 1280-px row.")
