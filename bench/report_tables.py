# SPDX-License-Identifier: MIT
# bench/report_tables.py — the markdown tables bench/report.py writes into the docs, one
# function per table, each from one recorded run (bench/results/NAME.json) and headed by
# that run's command, machine, date and load average (bench/results/index.json).
import json
import os

import latency_capacity


class results:
    """The recorded runs: result(name) is a run's JSON, stamp(name) says where it came from."""

    def __init__(self, root):
        self.dir = os.path.join(root, "bench", "results")
        with open(os.path.join(self.dir, "index.json")) as f:
            self.index = json.load(f)
        self.root = root

    def result(self, name):
        with open(os.path.join(self.dir, name + ".json")) as f:
            return json.load(f)

    def stamp(self, name):
        i = self.index[name]
        return (f"`{i['command']}`: {i['machine']}, {i['date']}, load average "
                f"{i['load_average']} at the start (source {i['commit']}).")


def gb_runs(result):
    """{run name: the entry to report}: the median aggregate where repetitions ran, else the
    run itself. Benchmarks that ended with an error are left out."""
    runs = {}
    for b in result["benchmarks"]:
        if b.get("error_occurred"):
            continue
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                runs[b["run_name"]] = b
        else:
            runs.setdefault(b.get("run_name", b["name"]), b)
    return runs


UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def real_ns(entry):
    return entry["real_time"] * UNIT_NS[entry["time_unit"]]


def fmt_ns(ns):
    """ns as '1.88 ns', '41.1 µs', '31.9 ms': three significant digits."""
    for unit, scale in (("ns", 1.0), ("µs", 1e3), ("ms", 1e6)):
        if abs(ns) < 999.5 * scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns / 1e9:.3g} s"


def fmt_rate(per_s):
    return f"{per_s / 1e6:.1f} M/s" if per_s >= 1e6 else f"{per_s / 1e3:.0f} k/s"


def table(head, rows):
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def block(res, name, head, rows):
    return res.stamp(name) + "\n\n" + table(head, rows)


def cycle_core(res):
    """The first core's object of `hotcore cycle --json` (an array, one per core)."""
    r = res.result("cycle")
    return r[0] if isinstance(r, list) else r


def cycle(res, name="cycle", prefixes=None):
    """`hotcore cycle --json`: median and p99 of each half, then each state's median from
    the traced pass of the same run (only states named with one of `prefixes`, where
    given)."""
    r = res.result(name)
    r = r[0] if isinstance(r, list) else r
    lat = r["latency_ns"]
    halves = ("down", "up", "down+up")
    rows = [[f"**{q}**"] + [fmt_ns(lat[h][q]) for h in halves] for q in ("median", "p99")]
    cost = {}
    for s in r["per_state"]:
        if prefixes is not None and not s["name"].startswith(prefixes):
            continue
        empty = s["name"].startswith("cycle:empty")
        label = "each `cycle:empty` state" if empty else f"`{s['name']}`"
        cell = cost.setdefault(label, {})
        cell[s["dir"]] = max(cell.get(s["dir"], 0), s["median_ns"])
    for n in sorted(cost, key=lambda n: -sum(cost[n].values())):
        rows.append([n] + [fmt_ns(cost[n][d]) if d in cost[n] else "" for d in ("down", "up")]
                    + [""])
    split = r.get("split_ns")
    if split and prefixes is None:
        # The third pass: outside the walk, and the walk minus its callbacks (the hand-over).
        rows.append(["outside the walk (locks)"]
                    + [fmt_ns(split[d]["outside_walk"]) for d in ("down", "up")] + [""])
        rows.append(["hand-over to `hc-hotplug/1` and back"]
                    + [fmt_ns(max(0, split[d]["walk"] - split[d]["callbacks"]))
                       for d in ("down", "up")] + [""])
    return block(res, name, ["", "down", "up", "down+up"], rows)


def cycle_subsystems(res):
    """`hotcore cycle --subsystems --json`: the cycle with a ring, an arena and a timer
    service up, and the ring's and the arena's states (the timers' cost < 1 µs)."""
    return cycle(res, "cycle_subsystems", prefixes=("io/", "mm/"))


def timed_row(name, b):
    """A benchmark's mean time, and its median and p99 counters where it has them."""
    median = b.get("median_ns", b.get("p50_ns"))
    cells = [fmt_ns(median) if median is not None else "", fmt_ns(b["p99_ns"]) if "p99_ns" in b else ""]
    return [f"`{name.replace('/real_time', '')}`", fmt_ns(real_ns(b))] + cells


def hotplug(res):
    """hotplug_bench: a cycle against the state count; an instance on 1 and all cores."""
    rows = [timed_row(name, b) for name, b in gb_runs(res.result("hotplug")).items()]
    return block(res, "hotplug", ["benchmark", "mean", "median", "p99"], rows)


def sched_pairs(res):
    """{(workload, cores): (hotcore entry, oneTBB entry)} from sched_bench."""
    runs, pairs = gb_runs(res.result("sched")), {}
    for name, b in runs.items():
        parts = name.split("/")
        if len(parts) < 3 or parts[1] != "hotcore" or not parts[2].startswith("cores:"):
            continue
        other = runs.get(name.replace("/hotcore/", "/tbb/"))
        if other:
            pairs[(parts[0], int(parts[2][6:]))] = (b, other)
    return pairs


def sched_cost(entry, workload):
    return entry["p50_us"] * 1e3 if workload == "wake_latency" else real_ns(entry)


def sched(res):
    """One row per workload: hotcore, oneTBB and their ratio at each core count."""
    pairs = sched_pairs(res)
    counts = sorted({c for _, c in pairs})
    rows = []
    for workload in sorted({w for w, _ in pairs}):
        label = f"`{workload}` (p50)" if workload == "wake_latency" else f"`{workload}`"
        row = [label]
        for c in counts:
            hc, tb = pairs.get((workload, c), (None, None))
            a, b = (sched_cost(hc, workload), sched_cost(tb, workload)) if hc else (0, 0)
            row += [f"{fmt_ns(a)} / {fmt_ns(b)}", f"**{a / b:.2f}**"] if hc else ["", ""]
        rows.append(row)
    head = ["workload"] + [h for c in counts for h in (f"{c} core{'s' if c > 1 else ''}: "
                                                       "hotcore / oneTBB", "ratio")]
    return block(res, "sched", head, rows)


def churn_kept(res):
    """parallel_for throughput with core 1 down and up every ms, over it without churn."""
    runs = gb_runs(res.result("sched"))
    churn = next(b for n, b in runs.items() if n.startswith("churn/hotcore"))
    still = next(b for n, b in runs.items() if n.startswith("churn_off/hotcore"))
    return real_ns(still) / real_ns(churn), churn, still


def churn(res):
    kept, on, off = churn_kept(res)
    rows = [[fmt_ns(real_ns(off)), fmt_ns(real_ns(on)), f"{100 * kept:.0f} %"]]
    head = ["`churn_off/hotcore`", "`churn/hotcore`", "throughput with churn / without"]
    return table(head, rows)


def find(runs, prefix):
    """The one run whose name starts with prefix (names carry /iterations:N, /real_time)."""
    return next(b for n, b in runs.items() if n == prefix or n.startswith(prefix + "/"))


def request_cost(res):
    runs = gb_runs(res.result("request_cost"))
    rows = []
    for rate in (500, 1500):
        hc, tb = (find(runs, f"request_cost/{pool}/rate:{rate}") for pool in ("hotcore", "tbb"))
        rows.append([f"CPU per request at {rate}/s (useful: {hc['useful_us_per_req']:.0f} µs)",
                     f"{hc['cpu_us_per_req']:.0f} µs", f"{tb['cpu_us_per_req']:.0f} µs",
                     f"{hc['cpu_us_per_req'] / tb['cpu_us_per_req']:.2f}"])
        rows.append([f"latency p50 / p99 at {rate}/s"]
                    + [f"{fmt_ns(e['p50_us'] * 1e3)} / {fmt_ns(e['p99_us'] * 1e3)}"
                       for e in (hc, tb)] + [""])
    hc, tb = (find(runs, f"idle_cpu/{pool}") for pool in ("hotcore", "tbb"))
    rows.append(["idle pool over 2 s, per cent of one CPU", f"{hc['idle_cpu_pct']:.4f} %",
                 f"{tb['idle_cpu_pct']:.4f} %", ""])
    return block(res, "request_cost", ["", "hotcore", "oneTBB", "hotcore / oneTBB"], rows)


def alloc(res):
    runs = gb_runs(res.result("alloc"))
    rows = []
    for work in ("same_core_64", "same_core_mixed", "cross_core_64"):
        rate = {a: find(runs, f"{work}/{a}")["items_per_second"]
                for a in ("hotcore", "malloc", "tbbmalloc")}
        rows.append([f"`{work}`"] + [fmt_rate(rate[a]) for a in ("hotcore", "malloc", "tbbmalloc")]
                    + [f"{rate['hotcore'] / rate['malloc']:.2f}",
                       f"{rate['hotcore'] / rate['tbbmalloc']:.2f}"])
    head = ["workload", "hotcore", "malloc", "tbbmalloc", "hotcore / malloc", "hotcore / tbbmalloc"]
    return block(res, "alloc", head, rows)


def timer(res):
    runs = gb_runs(res.result("timer"))
    rows = []
    for name in ("arm_fire/local", "arm_fire/remote", "arm_cancel/local"):
        b = find(runs, name)
        rows.append([f"`{name}`", f"{fmt_ns(1e9 / b['items_per_second'])} per timer, "
                     f"{fmt_rate(b['items_per_second'])}"])
    for name in ("lateness/spinning", "lateness/sleeping", "lateness/busy"):
        b = find(runs, name)
        rows.append([f"`{name}`", f"p50 {fmt_ns(b['p50_ns'])}, p99 {fmt_ns(b['p99_ns'])}"])
    return block(res, "timer", ["benchmark", "result"], rows)


def io(res):
    rows = []
    for name, b in gb_runs(res.result("io")).items():
        split = f"{fmt_ns(b['down_ns'])} / {fmt_ns(b['up_ns'])}" if "up_ns" in b else ""
        rows.append(timed_row(name, b) + [split])
    head = ["benchmark", "mean", "median", "p99", "`io/uring:online` down / up"]
    return block(res, "io", head, rows)


def core_cost_rows(res):
    """{layer: (p50 µs, p99 µs)} at the largest core count each layer ran at."""
    runs = gb_runs(res.result("core_cost"))
    top = {}
    for name, b in runs.items():
        family = name.split("/")[1]
        top[family] = b  # names come in core order: the last one is the largest count
    layers = {"oneTBB arena re-initialised at N−1 threads and back": ("tbb_arena_reinit", ""),
              "hotcore logical down+up, 8 empty ONLINE states": ("hotcore_logical", ""),
              "hotcore physical down+up of cpu1: hotcore's part":
                  ("hotcore_physical_cpu1", "runtime_"),
              "hotcore physical down+up of cpu1: the kernel's part":
                  ("hotcore_physical_cpu1", "kernel_")}
    return {layer: (top[fam][pre + "p50_us"], top[fam][pre + "p99_us"])
            for layer, (fam, pre) in layers.items() if fam in top}


def core_cost(res):
    rows = [[layer, fmt_ns(p50 * 1e3), fmt_ns(p99 * 1e3)]
            for layer, (p50, p99) in core_cost_rows(res).items()]
    return block(res, "core_cost", ["one core away and back", "p50", "p99"], rows)


SCALE_ROWS = [("walk", "scale_walk", "per_op_ns"),
              ("add_remove_instance, per core", "scale_add_remove_instance", "per_core_ns"),
              ("add_remove_instance_parallel, per core", "scale_add_remove_instance_parallel",
               "per_core_ns"),
              ("quota_step, per core moved", "scale_quota_step", "per_core_ns"),
              ("quota_step_parallel, per core moved", "scale_quota_step_parallel", "per_core_ns"),
              ("cpus_read_lock", "scale_cpus_read_lock", "per_op_ns"),
              ("submit, per task", "scale_submit", "per_op_ns"),
              ("steal, per task", "scale_steal", "per_op_ns")]


def scale_sweep(res):
    """{label: {cores: figure}} from scale_bench."""
    runs = gb_runs(res.result("scale"))
    sweep = {}
    for label, family, counter in SCALE_ROWS:
        for name, b in runs.items():
            if name.split("/")[0] == family and counter in b:
                sweep.setdefault(label, {})[int(b["cores"])] = b[counter]
    return sweep


def scale(res):
    sweep = scale_sweep(res)
    counts = sorted({c for row in sweep.values() for c in row})
    rows = [[label] + [fmt_ns(by[c]) if c in by else "" for c in counts]
            + [f"{by[counts[-1]] / by[counts[0]]:.2f}" if len(by) == len(counts) else ""]
            for label, by in sweep.items()]
    head = ["benchmark"] + [str(c) for c in counts] + [f"{counts[-1]} / {counts[0]}"]
    return block(res, "scale", head, rows)


def lock(res):
    by = {}
    for name, b in gb_runs(res.result("lock")).items():
        family, threads = name.split("/")[0], int(name.rsplit("threads:", 1)[1])
        by.setdefault(family, {})[threads] = b["thread_ns"]
    counts = sorted({t for row in by.values() for t in row})
    what = {"BM_cpus_read_lock": "`cpus_read_lock()` + `cpus_read_unlock()` (the public API)",
            "BM_read_lock": "the lock alone", "BM_call_floor": "two empty out-of-line calls"}
    rows = [[what.get(f, f)] + [fmt_ns(by[f][t]) for t in counts] for f in by]
    head = ["`thread_ns`"] + [f"{t} reader{'s' if t > 1 else ''}" for t in counts]
    return block(res, "lock", head, rows)


def latency_rows(root):
    """Key-figure rows from the latency driver's docs/latency_results.json."""
    with open(os.path.join(root, "docs", "latency_results.json")) as f:
        r = json.load(f)
    cap = latency_capacity.capacity(r, r["slo_ms"])
    servers = ("hotcore-follow", "hotcore-fixed", "tbb", "nginx")
    rows = []
    for limit in (1.0, 1.5):
        rows.append([f"requests/s within a {r['slo_ms']:g} ms p99 under a {limit:.1f} CPU limit: "
                     "following / 2 cores fixed / oneTBB / nginx",
                     " / ".join(f"{cap.get((limit, s), 0):.0f}" for s in servers)])
    at = {p["server"]: p for p in r["points"] if p["limit"] == 1.0 and p["load"] == 0.75}
    if "hotcore-follow" in at and "tbb" in at:
        rows.append(["throttled periods at 75 % of a 1.0 CPU limit: following / oneTBB",
                     " / ".join(f"{at[s]['nr_throttled']} of {at[s]['nr_periods']}"
                                for s in ("hotcore-follow", "tbb"))])
    return rows, f"`{r['command']}`: {r['machine']}, {r['date']} (source {r['commit']})"


def key_rows(res):
    """[(what, figure, result name)] for the README's key figures."""
    lat = cycle_core(res)["latency_ns"]["down+up"]
    layers = core_cost_rows(res)
    kernel = layers["hotcore physical down+up of cpu1: the kernel's part"][0]
    hc, tb = sched_pairs(res)[("fib_fine", 2)]
    cost = gb_runs(res.result("request_cost"))
    ratio = (find(cost, "request_cost/hotcore/rate:500")["cpu_us_per_req"]
             / find(cost, "request_cost/tbb/rate:500")["cpu_us_per_req"])
    rows = [("a core down+up (8 empty states), median / p99",
             f"{fmt_ns(lat['median'])} / {fmt_ns(lat['p99'])}", "cycle"),
            ("the same through the kernel's CPU hotplug (root), the kernel's part, median",
             fmt_ns(kernel * 1e3), "core_cost"),
            ("fine-grained tasks (`fib_fine`, 2 cores), hotcore / oneTBB time",
             f"{real_ns(hc) / real_ns(tb):.2f}", "sched"),
            ("`parallel_for` throughput with a core down and up every ms / without",
             f"{100 * churn_kept(res)[0]:.0f} %", "sched"),
            ("CPU per request at 500/s, hotcore / oneTBB", f"{ratio:.2f}", "request_cost")]
    if "follow_quota" in res.index:
        q = res.result("follow_quota")["reaction_ns"]
        rows.append(("quota write to the runtime at the new core count, median / p99",
                     f"{fmt_ns(q['median'])} / {fmt_ns(q['p99'])}", "follow_quota"))
    if "soak" in res.index:
        s = res.result("soak")
        rows.append((f"tasks lost or run twice in a {s['seconds']} s soak, "
                     f"{s['core_cycles']:,} core cycles",
                     f"{s['lost'] + s['duplicated']} of {s['ran']:,}", "soak"))
    return rows


def key_figures(res):
    """The README block: each figure with the command, machine and date of its run."""
    runs = {}
    rows = []
    for what, figure, name in key_rows(res):
        note = runs.setdefault(name, len(runs) + 1)
        rows.append([what, figure, f"[{note}]"])
    lat, lat_stamp = latency_rows(res.root)
    rows += [[what, figure, f"[{len(runs) + 1}]"] for what, figure in lat]
    notes = [f"- [{n}] {res.stamp(name)}" for name, n in runs.items()]
    notes.append(f"- [{len(runs) + 1}] {lat_stamp}")
    return table(["what", "figure", "run"], rows) + "\n\n" + "\n".join(notes)


def all_tables(root):
    res = results(root)
    makers = {"key-figures": key_figures, "cycle": cycle, "cycle-subsystems": cycle_subsystems,
              "hotplug": hotplug, "sched": sched, "churn": churn,
              "request-cost": request_cost, "alloc": alloc, "timer": timer, "io": io,
              "core-cost": core_cost, "scale": scale, "lock": lock}
    return {name: make(res) for name, make in makers.items()}
