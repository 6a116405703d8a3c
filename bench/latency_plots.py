# SPDX-License-Identifier: MIT
# bench/latency_plots.py — the PNGs of the latency benchmark from the driver's JSON: p99
# against offered load (a panel per CPU limit, a line per server), capacity at the p99 SLO
# per configuration, and p99 per second across a resize.
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import latency_capacity  # noqa: E402

COLORS = {"hotcore-follow": "tab:blue", "hotcore-poll1s": "tab:cyan", "hotcore-fixed": "tab:orange",
          "tbb": "tab:green", "nginx": "tab:gray"}


def limit_label(limit):
    return "no limit (2 CPUs)" if limit is None else "%.1f CPU limit" % limit


def limits_of(points):
    seen = []
    for p in points:
        if p["limit"] not in seen:
            seen.append(p["limit"])
    return seen


def save(fig, path, stamp):
    """stamp: "command — machine — date", written under the axes on two lines."""
    command, _, rest = stamp.partition(" — ")
    fig.text(0.01, 0.005, "%s\n%s" % (command, rest), fontsize=7, color="dimgray")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_latency(result, path):
    points, limits = result["points"], limits_of(result["points"])
    fig, axes = plt.subplots(1, len(limits), figsize=(5 * len(limits), 4), squeeze=False)
    slo = result["slo_ms"]
    for ax, limit in zip(axes[0], limits):
        for server in result["servers"]:
            pts = sorted((p for p in points if p["limit"] == limit and p["server"] == server),
                         key=lambda p: p["load"])
            if pts:
                ax.plot([100 * p["load"] for p in pts], [p["p99_us"] / 1000 for p in pts], "o-",
                        label=server, color=COLORS.get(server))
        ax.axhline(slo, color="red", linestyle=":", linewidth=1, label="SLO %g ms" % slo)
        ax.set_yscale("log")
        ax.set_title(limit_label(limit))
        ax.set_xlabel("offered load, % of the limit")
        ax.set_ylabel("p99 latency (ms)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    save(fig, path, result["stamp"])


def plot_capacity(result, path):
    limits, servers = limits_of(result["points"]), result["servers"]
    slos = latency_capacity.slos(result)
    fig, axes = plt.subplots(1, len(slos), figsize=(6 * len(slos), 4), squeeze=False)
    width = 0.8 / max(1, len(servers))
    for ax, slo in zip(axes[0], slos):
        cap = latency_capacity.capacity(result, slo)
        for i, server in enumerate(servers):
            xs = [j + i * width for j in range(len(limits))]
            bars = ax.bar(xs, [cap.get((lim, server), 0.0) for lim in limits], width, label=server,
                          color=COLORS.get(server))
            ax.bar_label(bars, fmt="%.0f", fontsize=7)  # a 0 shows too
        ax.set_xticks([j + width * (len(servers) - 1) / 2 for j in range(len(limits))])
        ax.set_xticklabels([limit_label(lim) for lim in limits], fontsize=8)
        ax.set_ylabel("req/s")
        ax.set_title("Capacity at p99 <= %g ms (every load up to it met it)" % slo, fontsize=10)
    axes[0][0].legend(fontsize=8)
    save(fig, path, result["stamp"])


def plot_resize(resize, path, stamp):
    runs = resize["runs"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    for i, run in enumerate(runs):
        style = ("-", "--", ":")[i % 3]  # the core counts of two runs often coincide
        xs = [s["t"] + 0.5 for s in run["per_second"]]
        top.plot(xs, [max(s["p99_us"], 1) / 1000 for s in run["per_second"]], "o-", markersize=3,
                 label=run["server"], color=COLORS.get(run["server"]))
        bottom.step([s["t"] for s in run["samples"]], [s["cores"] for s in run["samples"]],
                    where="post", color=COLORS.get(run["server"]), linestyle=style, linewidth=2)
    for step in resize["steps"]:
        for ax in (top, bottom):
            ax.axvline(step["t"], color="gray", linestyle=":", linewidth=1)
        top.text(step["t"] + 0.1, 0.98, "%.1f CPU" % step["cpus"], transform=top.get_xaxis_transform(),
                 fontsize=8, va="top")
    top.set_yscale("log")
    top.set_ylabel("p99 per second (ms)")
    top.set_title("Resize under load (%s, %.0f req/s)" % (resize["via"], resize["rate"]))
    top.legend(fontsize=8)
    top.grid(True, which="both", alpha=0.3)
    bottom.set_ylabel("pool cores")
    bottom.set_xlabel("seconds")
    bottom.set_ylim(0, 3)
    save(fig, path, stamp)
