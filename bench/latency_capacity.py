# SPDX-License-Identifier: MIT
# bench/latency_capacity.py — capacity at the p99 SLO from the latency driver's points: per
# configuration, the highest offered load up to which every point met the SLO, without errors.


def slos(result):
    """The SLOs to report: the driver's --slo-ms, and 4 times it (a machine busy with other
    work can miss the tight one at every load)."""
    return [result["slo_ms"], 4 * result["slo_ms"]]


def capacity(result, slo_ms):
    """{(limit, server): req/s of the highest load with every load up to it at p99 <= slo_ms
    and no errors; 0 when the lowest load already missed it}."""
    runs = {}
    for p in result["points"]:
        runs.setdefault((p["limit"], p["server"]), []).append(p)
    out = {}
    for key, points in runs.items():
        out[key] = 0.0
        for p in sorted(points, key=lambda p: p["load"]):
            if p["p99_us"] > slo_ms * 1000 or p["errors"] != 0:
                break
            out[key] = p["rate"]
    return out
