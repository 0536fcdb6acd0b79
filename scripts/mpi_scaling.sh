#!/usr/bin/env bash
# What data-parallel training costs on this machine, and a projection of it to clusters.
#
#   swift build -c release
#   scripts/mpi_scaling.sh [cifar-10-batches-bin folder] [output folder]
#
# Measures, over loopback TCP (--mca btl tcp,self, the network path): the latency and bandwidth
# of MPI_Allreduce and of the rank-ordered sum the training uses; the bytes and the time of one
# step's gradient sum for W4, W5 and W6; and 2 ranks x 1 thread against 1 rank x 2 threads for
# W4, W5 and W6, alternately, twice. Then prints the PROJECTION for 4 to 64 nodes of 2 cores on
# 10 and 25 GbE (see the model at the end). Takes about 15 minutes on a quiet 2-core machine.
# ONE_NODE_RATES="W4=34549,W5=3496,W6=201" projects from those training images/s of one node
# instead of the ones measured here (a quiet machine's, when this one is shared).
# PROJECT_ONLY=1 skips the measurements and projects from those already in the output folder.
set -euo pipefail
cd "$(dirname "$0")/.."
tool=.build/release/cs231n
data=${1:-../shared/data/cifar-10-batches-bin}
out=${2:-mpi-scaling}
mkdir -p "$out"
mpi=(mpirun --oversubscribe --allow-run-as-root --mca btl tcp,self -x CS231N_THREADS=1 -x CS231N_NO_PROGRESS=1)

if [ -z "${PROJECT_ONLY:-}" ]; then
echo "== collectives, 2 ranks over loopback TCP"
"${mpi[@]}" -np 2 "$tool" bench MPI --json 2>&1 >"$out/collectives.json" | grep -v "^{" || true
for round in 1 2; do
  for workload in W4 W5 W6; do
    echo "== $workload round $round: 1 rank x 2 threads"
    CS231N_THREADS=2 CS231N_NO_PROGRESS=1 "$tool" bench "$workload" --data-dir "$data" --json \
      >"$out/$workload-1x2-$round.json" 2>"$out/$workload-1x2-$round.log"
    grep -h '^ours' "$out/$workload-1x2-$round.log" || true
    echo "== $workload round $round: 2 ranks x 1 thread"
    "${mpi[@]}" -np 2 "$tool" bench "$workload" --data-dir "$data" --json \
      >"$out/$workload-2x1-$round.json" 2>"$out/$workload-2x1-$round.log"
    grep -h '^ours\|gradient sum' "$out/$workload-2x1-$round.log" || true
  done
done
fi

python3 - "$out" <<'EOF'
import json, math, os, pathlib, statistics, sys

out = pathlib.Path(sys.argv[1])
def lines(name):
    return [json.loads(l) for l in (out / name).read_text().splitlines() if l.startswith("{")]

def rate(workload, layout):
    """Training images per second, the mean of the rounds."""
    values = [f["value"] for r in (1, 2) for f in lines(f"{workload}-{layout}-{r}.json")
              if f.get("metric") == "images_per_second" and f.get("phase", "train") == "train"]
    return statistics.mean(values)

collectives = lines("collectives.json")
gradient_bytes = {f["workload"]: f["bytes"] for f in collectives if f.get("metric") == "gradient_sum_seconds"}
loopback_sum = {f["workload"]: f["value"] for f in collectives if f.get("metric") == "gradient_sum_seconds"}
batch = {"W4": 200, "W5": 128, "W6": 512}

print("\nMeasured on this machine (2 cores), training images/s, mean of 2 rounds:")
print("| workload | 1 rank x 2 threads | 2 ranks x 1 thread (TCP) | ratio | gradient bytes/step | ordered sum, 2 ranks loopback |")
print("|---|---|---|---|---|---|")
for w in ("W4", "W5", "W6"):
    one, two = rate(w, "1x2"), rate(w, "2x1")
    print(f"| {w} | {one:,.0f} | {two:,.0f} | {two / one:.2f}x | {gradient_bytes[w] / 1e6:.2f} MB | {1e3 * loopback_sum[w]:.1f} ms |")

# PROJECTION. n nodes of 2 cores, the same global batch. A step is the compute of 1/n of the
# batch on one node (the 1 x 2 measurement divided by n: optimistic where a node's share gets
# small) plus the gradient sum, not overlapped with the backward pass (the Solver sums after it):
# alltoall + allgather move 2(n-1)/n of the gradient bytes in and out of each node at the link's
# rate, in 2(n-1) messages of latency alpha each.
given = dict(item.split("=") for item in os.environ.get("ONE_NODE_RATES", "").split(",") if item)
one_node = {w: float(given[w]) if w in given else rate(w, "1x2") for w in ("W4", "W5", "W6")}
alpha = 30e-6                       # per message over TCP on Ethernet
links = {"10 GbE": 10e9 / 8 * 0.9, "25 GbE": 25e9 / 8 * 0.9}   # bytes/s at 90% of the line rate
nodes = (1, 4, 8, 16, 64)
print(f"\nPROJECTION (a model, not a measurement): alpha = {1e6 * alpha:.0f} us per message, 90% of line rate, no overlap;")
print("one node: " + ", ".join(f"{w} {one_node[w]:,.0f} img/s" + (" (given)" if w in given else " (measured)") for w in one_node))
print("| workload | link | " + " | ".join(f"{n} nodes" for n in nodes) + " |")
print("|---|---|" + "---|" * len(nodes))
airbench = {}
for w in ("W4", "W5", "W6"):
    one_step = batch[w] / one_node[w]
    for link, beta in links.items():
        cells = []
        for n in nodes:
            comm = 0 if n == 1 else 2 * (n - 1) * alpha + 2 * (n - 1) / n * gradient_bytes[w] / beta
            step = one_step / n + comm
            small = "*" if batch[w] / n <= 16 else ""
            cells.append(f"{1e3 * step:.1f} ms ({one_step / step:.1f}x){small}")
            if w == "W6":
                # airbench's recipe: batch 1024, 10 epochs of 49,000 images = 480 steps; its step
                # computes twice W6's batch of 512 and sums the same gradients.
                big = 2 * one_step / n + comm
                airbench[(link, n)] = 480 * big / 60
        print(f"| {w} (batch {batch[w]}) | {link} | " + " | ".join(cells) + " |")
print("\n*: 16 images or fewer per node, where the compute estimate (the one-node time / n) is optimistic.")
print("\nairbench's 10-epoch recipe (batch 1024, training steps only), minutes:")
print("| link | " + " | ".join(f"{n} nodes" for n in nodes) + " |")
print("|---|" + "---|" * len(nodes))
for link in links:
    print(f"| {link} | " + " | ".join(f"{airbench[(link, n)]:.1f}" for n in nodes) + " |")
EOF
