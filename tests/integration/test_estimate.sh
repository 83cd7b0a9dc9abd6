#!/usr/bin/env bash
# strata estimate: golden projections (training on the measured CPU figures
# of run-cluster-a, a 70B model with overrides, serving memory) and the
# error when the run lacks the figure the precision needs.
source "$(dirname "$0")/lib.sh"

bash "$SRC/tests/fixtures/golden.sh" "$STRATA" "$SRC" estimate "$WORK/gout" --check ||
  die "estimate outputs differ from the golden files"
O="$WORK/gout"
# 70B, ZeRO-3 over 512: 140 GB of bf16 weights / 512 = 0.25 GiB; optimizer 840 GB / 512 = 1.53 GiB
grep -q "| weights | N x 2 B / G (ZeRO-3) | 0.25 GiB |" "$O/estimate-gpu.md" || die "ZeRO-3 weights"
grep -q "| optimizer states | N x 12 B / G (ZeRO-1) | 1.53 GiB |" "$O/estimate-gpu.md" || die "optimizer"
# 8B GQA: 2 x 32 layers x 8192 x 16 x 1024 x 2 B = 16 GiB of KV cache
grep -q "| KV cache | .* | 16.00 GiB |" "$O/estimate-serve.md" || die "KV cache"
grep -q "from the measured\|best median of \`gemm\[device=cpu,dtype=float32,m=4096" "$O/estimate-train.md" ||
  die "the measured GEMM rate must be used"
grep -q "^# exit 2" "$O/estimate-missing.txt" || die "missing figure must be exit 2"
expect_exit 2 "$STRATA" estimate --gpus 8
expect_output "--params"
expect_exit 0 "$STRATA" estimate --help
echo "PASS"
