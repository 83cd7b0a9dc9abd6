#!/usr/bin/env bash
# compare_llmc_train.sh: peer comparison of the train suite's CPU step time
# against llm.c's CPU trainer (github.com/karpathy/llm.c, train_gpt2.c).
#
# What it is: a script a person runs by hand on a quiet node.  It builds
# llm.c's train_gpt2.c under /tmp (never inside the repository) the way llm.c's
# Makefile does (gcc -Ofast -march=native -fopenmp -DOMP, -lm -lgomp), from a
# copy patched with sed so it runs WARMUP + STEPS training steps with no
# validation and no sampling at the micro-batch B x T asked for; makes its
# input files with tests/perf/llmc_inputs.py (a checkpoint in llm.c's layout
# with random GPT-2-style weights, token shards in llm.c's dataloader layout;
# there is no network for the real downloads and none is needed: the step time
# does not depend on the values); then alternates llm.c and `strata run`
# (suite train, mode throughput, the same shape, B, T and threads) ROUNDS
# times so drifts in machine load hit both alike.  Per round it prints each
# side's median step time over its timed steps and the ratio strata / llm.c
# (< 1: strata is faster), then the median of the per-round ratios and both
# sides' tokens/s (B x T / median step).  Goal: ratio <= GOAL.
# What it is not: a ctest (minutes, and a pass mark needs a quiet machine), a
# GPU comparison (llm.c's train_gpt2.cu against device: cuda is separate), or
# a check of the loss (the weights are random; each side only has to report
# finite losses).
#
# The shape: GPT-2 124M by default (L=12, C=768, NH=12, maxT=1024).  llm.c
# pads the vocabulary V=50257 to Vp=50304 (a multiple of 128): its logits
# matmul and the tied wte's gradient are (B*T, Vp) while its softmax and loss
# cover the first V columns only.  strata has no padding, so its vocab is set
# to Vp (default) and its matmuls are the same size as llm.c's; its softmax
# then covers 47 columns more (under 0.1% of the logit work).  Both sides read
# token ids below CORPUS_VOCAB (1024), which only the embedding lookups see.
#
# What each side's step covers (read in train_gpt2.c main() and
# suites/train.c train_step):
#   llm.c   clock_gettime(CLOCK_MONOTONIC) around dataloader_next_batch (a
#           synchronous fread of B*T+1 tokens at a shuffled offset, from the
#           page cache), gpt2_forward, gpt2_zero_grad (memset of the
#           parameter gradients AND of every activation gradient),
#           gpt2_backward, gpt2_update (AdamW, lr 1e-4 constant, weight
#           decay 0, in one single-threaded loop: no OpenMP pragma).  No
#           gradient clipping on the CPU, no learning-rate schedule.  Matmuls
#           are llm.c's own C loops (tiled by 8, OpenMP, autovectorised).
#           The first step allocates activations, gradients and the AdamW
#           state lazily, so WARMUP >= 1 is needed to leave it out.
#   strata  the runner's repetition time around train_step: the wait for the
#           next micro-batch from the loader's prefetch queue (reader threads,
#           page cache) and a copy that checks each token id, forward, zero
#           of the parameter gradients, backward (announcing gradient buckets;
#           with one rank no all-reduce is sent), gradient clipping to a global
#           norm (OFF here by default, GRAD_CLIP=0, since llm.c does none;
#           GRAD_CLIP=1.0 is the suite's default and adds two passes over the
#           gradients), AdamW (OpenMP, weight decay on 2-D weights, warm-up +
#           cosine schedule).  Matmuls are OpenBLAS cblas_sgemm.  The weight
#           checksum is moved out of the timed steps (check_every huge), as
#           llm.c has none.
# So the ratio is mostly OpenBLAS against llm.c's matmul loops: at 124M and
# T=64 the weight matmuls are 6N = 742 MFLOP per token against 12 L C T = 7
# MFLOP for attention (gpt.h's formula).  The rest is small on both sides: a
# one-off copy of llm.c with timers around each call (not part of this
# script) gave, at 124M on 2 threads, forward 0.6 s, zero_grad 0.012 s,
# backward 2.2 s, update 0.06 s (one thread, but vectorised by -Ofast) and
# data 0.0001 s; strata's forward/backward/optimizer are printed per round.
#
# usage: tests/perf/compare_llmc_train.sh [path/to/strata]
# env:   L (12) C (768) NH (12) V (50257) VP (0: V rounded up to 128)
#        MAXT (1024) B (4) T (64): llm.c's CPU defaults are B=4, T=64
#        THREADS (2): OMP_NUM_THREADS for both, `threads:` for strata
#        ROUNDS (3) WARMUP (2) STEPS (5): steps per side per round
#        CORPUS_VOCAB (1024) GRAD_CLIP (0) GOAL (1.0: strata/llm.c <= GOAL)
#        LLMC_SRC   a directory holding train_gpt2.c and llmc/ (a checkout)
#        LLMC_GITDIR  a git directory of karpathy/llm.c to take them from
#                   (neither: git clone --depth 1 into the work directory)
#        LAUNCH     prefix for strata (empty: an MPI singleton)
# exit:  0 when the median ratio <= GOAL, 4 when above, 2 on bad usage,
#        3 when a step fails.
#
# Measured on a 2-core AMD EPYC VM that other jobs shared (load average
# 1.3-7.7 during the runs, so the figures are noisy; rerun on a quiet node
# before quoting them); gcc 12.2, OpenBLAS 0.3.21 (pthread), llm.c f1e2ace
# of 2025-05-10, B=4 T=64, 2 threads, 2 warm-up + 5 timed steps per round:
#   124M, 5 rounds: llm.c 4.6-5.9 s/step, strata 1.4-3.7 s; per-round ratios
#     0.31 0.66 0.63 0.46 0.28, median 0.46; 46 against 122 tokens/s.
#   124M, 3 rounds: ratios 0.87 0.49 0.46, median 0.49 (llm.c 5.6-12 s).
#   L=4 C=512 NH=8, 5 rounds: ratios 0.53 0.55 0.53 0.25 0.39, median 0.53;
#     108 against 200 tokens/s.
# strata's step swung more with the load than llm.c's did (0.28-1.3 s for
# the small model, against llm.c's 1.1-2.5 s).
set -euo pipefail

STRATA=${1:-build/strata}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
L=${L:-12}
C=${C:-768}
NH=${NH:-12}
V=${V:-50257}
VP=${VP:-0}
MAXT=${MAXT:-1024}
B=${B:-4}
T=${T:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2}
STEPS=${STEPS:-5}
CORPUS_VOCAB=${CORPUS_VOCAB:-1024}
GRAD_CLIP=${GRAD_CLIP:-0}
GOAL=${GOAL:-1.0}
LAUNCH=${LAUNCH:-}

if [[ ! -x $STRATA ]]; then
	echo "compare_llmc_train: no strata binary at '$STRATA' (give its path as the first argument)" >&2
	exit 2
fi
((VP > 0)) || VP=$(((V + 127) / 128 * 128))
if ((WARMUP < 1 || STEPS < 1 || ROUNDS < 1 || VP < V || C % NH != 0 || CORPUS_VOCAB > V)); then
	echo "compare_llmc_train: need WARMUP, STEPS, ROUNDS >= 1, VP >= V, NH dividing C, CORPUS_VOCAB <= V" >&2
	exit 2
fi
for tool in gcc python3; do
	command -v "$tool" >/dev/null || { echo "compare_llmc_train: needs $tool" >&2; exit 3; }
done
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
export OMP_NUM_THREADS=$THREADS

WORK=$(mktemp -d /tmp/strata-compare-llmc.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# ---- llm.c: source (under /tmp), patch, build ---------------------------------
mkdir -p "$WORK/llmc"
if [[ -n ${LLMC_SRC:-} ]]; then
	cp -r "$LLMC_SRC/train_gpt2.c" "$LLMC_SRC/llmc" "$WORK/llmc/"
	rev=$(git -C "$LLMC_SRC" rev-parse --short HEAD 2>/dev/null || echo "unknown revision")
else
	if [[ -z ${LLMC_GITDIR:-} ]]; then
		git clone --quiet --depth 1 https://github.com/karpathy/llm.c "$WORK/llmc-git"
		LLMC_GITDIR=$WORK/llmc-git/.git
	fi
	git --git-dir="$LLMC_GITDIR" archive HEAD train_gpt2.c llmc | tar -x -C "$WORK/llmc"
	rev=$(git --git-dir="$LLMC_GITDIR" log -1 --format='%h %cs')
fi
# Each edit must hit exactly once, so a changed upstream file fails here
# rather than being measured unpatched.
src=$WORK/llmc/train_gpt2.c
patch_once() { # pattern replacement (sed -E on $src)
	local n
	n=$(grep -cE "$1" "$src" || true)
	if [[ $n != 1 ]]; then
		echo "compare_llmc_train: train_gpt2.c ($rev) has $n lines matching '$1', expected 1" >&2
		exit 3
	fi
	sed -E -i "s/$1/$2/" "$src"
}
patch_once 'for \(int step = 0; step <= 40; step\+\+\)' 'for (int step = 0; step < LLMC_STEPS; step++)'
patch_once 'if \(step % 10 == 0\) \{' 'if (0 \&\& step % 10 == 0) {'                # no validation
patch_once 'if \(step > 0 && step % 20 == 0\) \{' 'if (0 \&\& step > 0 \&\& step % 20 == 0) {' # no sampling
patch_once 'int B = 4;' 'int B = LLMC_B;'
patch_once 'int T = 64;' 'int T = LLMC_T;'
# As llm.c's Makefile builds train_gpt2 with gcc (CFLAGS -Ofast, -march=native
# when accepted, -fopenmp -DOMP; LDLIBS -lm -lgomp); -O3 is implied by -Ofast.
gcc -O3 -Ofast -Wno-unused-result -march=native -fopenmp -DOMP \
	-DLLMC_STEPS=$((WARMUP + STEPS)) -DLLMC_B="$B" -DLLMC_T="$T" \
	"$src" -lm -lgomp -o "$WORK/train_gpt2"

# ---- llm.c's inputs, at the relative paths train_gpt2.c opens -----------------
# Enough tokens that no epoch ends during the steps (an epoch end reshuffles,
# which is cheap anyway); llm.c needs at least B*T+1 per shard.
NTOK=$(((WARMUP + STEPS + 2) * B * T + 1))
mkdir -p "$WORK/run/dev/data/tinyshakespeare"
python3 "$REPO/tests/perf/llmc_inputs.py" model "$WORK/run/gpt2_124M.bin" --layers "$L" \
	--channels "$C" --heads "$NH" --vocab "$V" --padded-vocab "$VP" --max-seq "$MAXT" >/dev/null
python3 "$REPO/tests/perf/llmc_inputs.py" tokens \
	"$WORK/run/dev/data/tinyshakespeare/tiny_shakespeare_train.bin" --count "$NTOK" \
	--vocab "$CORPUS_VOCAB" --seed 1 >/dev/null
python3 "$REPO/tests/perf/llmc_inputs.py" tokens \
	"$WORK/run/dev/data/tinyshakespeare/tiny_shakespeare_val.bin" --count $((B * T + 1)) \
	--vocab "$CORPUS_VOCAB" --seed 2 >/dev/null

llmc_step_s() { # log -> median step seconds over the steps after WARMUP
	python3 - "$1" "$WARMUP" <<'EOF'
import math, re, statistics, sys
steps = [(int(m.group(1)), float(m.group(2)), float(m.group(3)))
         for m in re.finditer(r"step (\d+): train loss (\S+) \(took (\S+) ms\)", open(sys.argv[1]).read())]
timed = [s for s in steps if s[0] >= int(sys.argv[2])]
if not timed or not all(math.isfinite(s[1]) for s in steps):
    sys.exit("compare_llmc_train: llm.c printed no timed steps or a non-finite loss")
print("%.6f" % (statistics.median(s[2] for s in timed) / 1e3))
EOF
}

# ---- strata: the equivalent plan ---------------------------------------------
cat >"$WORK/plan.yaml" <<EOF
name: compare-llmc-train
run:
  warmup: {iterations: $WARMUP}
  repetitions: {count: $STEPS, min_seconds: 0}
  timeout_s: 3600
cases:
  - suite: train
    device: cpu
    mode: throughput
    model: gpt2-small
    layers: $L
    d_model: $C
    heads: $NH
    vocab: $VP
    seq: $T
    batch: $B
    corpus_vocab: $CORPUS_VOCAB
    threads: $THREADS
    ranks: 1
    grad_clip: $GRAD_CLIP
    check_every: 1000000000
EOF

strata_step_s() { # results dir -> "median_step_s forward_s backward_s optimizer_s"
	python3 - "$1/results.jsonl" <<'EOF'
import json, math, sys
rec = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
if len(rec) != 1 or rec[0].get("status") != "passed":
    sys.exit("compare_llmc_train: strata case did not pass: %s" % [r.get("status") for r in rec])
d = rec[0]["details"]
if not math.isfinite(d["train_loss"]["last"]):
    sys.exit("compare_llmc_train: strata's loss is not finite")
br = d["step_breakdown_s"]
print("%.6f %.4f %.4f %.4f" % (rec[0]["stats"]["median"], br["forward"], br["backward"], br["optimizer"]))
EOF
}

echo "compare_llmc_train: GPT L=$L C=$C NH=$NH V=$V (llm.c pads to $VP; strata vocab $VP) maxT=$MAXT," \
	"B=$B T=$T, $THREADS threads, $ROUNDS rounds of (llm.c, strata), each $WARMUP warm-up + $STEPS timed steps," \
	"grad_clip=$GRAD_CLIP"
echo "compare_llmc_train: llm.c $rev; gcc $(gcc -dumpfullversion);" \
	"OpenBLAS $(pkg-config --modversion openblas 2>/dev/null || echo '?');" \
	"$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %6s %13s %13s %8s   %s\n' round load llmc_step_s strata_step_s ratio "strata forward/backward/optimizer s"
rows=()
for ((r = 1; r <= ROUNDS; r++)); do
	load=$(cut -d' ' -f1 /proc/loadavg) # 1-minute load average as the round starts
	(cd "$WORK/run" && "$WORK/train_gpt2") >"$WORK/llmc$r.log" 2>&1 || {
		echo "compare_llmc_train: llm.c failed (round $r):" >&2
		tail -20 "$WORK/llmc$r.log" >&2
		exit 3
	}
	llmc=$(llmc_step_s "$WORK/llmc$r.log") || exit 3
	# $LAUNCH is deliberately unquoted: empty, or a launcher with its arguments.
	# shellcheck disable=SC2086
	$LAUNCH "$STRATA" run "$WORK/plan.yaml" -o "$WORK/strata$r" >"$WORK/strata$r.log" 2>&1 || {
		echo "compare_llmc_train: strata run failed (round $r):" >&2
		tail -20 "$WORK/strata$r.log" >&2
		exit 3
	}
	read -r strata fwd bwd opt <<<"$(strata_step_s "$WORK/strata$r")"
	[[ -n $strata ]] || exit 3
	ratio=$(python3 -c "print('%.4f' % ($strata / $llmc))")
	rows+=("$llmc $strata")
	printf '%-6s %6s %13.3f %13.3f %8s   %s/%s/%s\n' "$r" "$load" "$llmc" "$strata" "$ratio" "$fwd" "$bwd" "$opt"
done

verdict=$(python3 - "$GOAL" "$((B * T))" "${rows[@]}" <<'EOF'
import statistics, sys
goal, tokens = float(sys.argv[1]), int(sys.argv[2])
rows = [tuple(map(float, r.split())) for r in sys.argv[3:]]
ratio = statistics.median(s / l for l, s in rows)
llmc = statistics.median(l for l, _ in rows)
strata = statistics.median(s for _, s in rows)
print("%.4f %s %.1f %.1f" % (ratio, "ok" if ratio <= goal else "above", tokens / llmc, tokens / strata))
EOF
)
read -r median status llmc_tps strata_tps <<<"$verdict"
echo "compare_llmc_train: tokens/s (B*T / median step over rounds): llm.c $llmc_tps, strata $strata_tps"
echo "compare_llmc_train: median ratio strata/llm.c step time = $median (goal <= $GOAL; < 1: strata faster): $status"
[[ $status == ok ]] || exit 4
