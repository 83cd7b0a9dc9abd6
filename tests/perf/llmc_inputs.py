#!/usr/bin/python3
"""Input files for llm.c's CPU trainer (train_gpt2.c), made up locally.

usage: llmc_inputs.py model PATH [--layers L] [--channels C] [--heads NH]
                                 [--vocab V] [--padded-vocab Vp] [--max-seq T]
                                 [--seed S]
       llmc_inputs.py tokens PATH [--count N] [--vocab V] [--seed S]

What it is: the stand-in for the downloads llm.c's README asks for
(gpt2_124M.bin from train_gpt2.py, token shards from dev/data/*.py), which a
machine without network cannot fetch, for tests/perf/compare_llmc_train.sh.
Only the files' layouts are llm.c's (read in karpathy/llm.c, train_gpt2.c
gpt2_build_from_checkpoint and fill_in_parameter_sizes, llmc/dataloader.h
dataloader_load_shard_); the contents are ours:

  model   a header of 256 int32 (magic 20240326, version 3 = FP32 with a
          padded vocabulary, max_seq_len, vocab_size, num_layers, num_heads,
          channels, padded_vocab_size, zeros), then the FP32 parameters in
          llm.c's order: wte (Vp, C), wpe (maxT, C), ln1w (L, C), ln1b (L, C),
          qkvw (L, 3C, C), qkvb (L, 3C), attprojw (L, C, C), attprojb (L, C),
          ln2w (L, C), ln2b (L, C), fcw (L, 4C, C), fcb (L, 4C),
          fcprojw (L, C, 4C), fcprojb (L, C), lnfw (C), lnfb (C).
          Values follow GPT-2's initialisation (Radford et al. 2019, and
          nanoGPT's _init_weights): N(0, 0.02) for weights and embeddings,
          N(0, 0.02 / sqrt(2L)) for the two residual projections, zero biases,
          layernorm gain 1; wte's padding rows V..Vp-1 are zero as
          train_gpt2.py writes them.  To stay fast in plain Python (no numpy
          here) a tensor is cut from a seeded block of 2^20 normal draws at a
          random offset, repeated when it is longer: the step time does not
          depend on the values as long as they are finite and not denormal.
  tokens  a header of 256 int32 (magic 20240520, version 1, token count,
          zeros), then the tokens as uint16: a walk of a seeded first-order
          chain (each token has 4 likely successors), so a model could learn
          something, though nothing here depends on that.

What it is not: a GPT-2 checkpoint (the weights are random), a tokenizer file
(train_gpt2.c warns and goes on without gpt2_tokenizer.bin; it needs one only
to print sampled text, which the comparison turns off), or llm.c code.
"""
import argparse
import array
import math
import random
import struct
import sys

MODEL_MAGIC, MODEL_VERSION = 20240326, 3
TOKENS_MAGIC, TOKENS_VERSION = 20240520, 1
HEADER_INTS = 256
BLOCK = 1 << 20


def header(values):
    return struct.pack("<%di" % HEADER_INTS, *(list(values) + [0] * (HEADER_INTS - len(values))))


def floats(values):
    a = array.array("f", values)
    if sys.byteorder != "little":
        a.byteswap()
    return a


class Writer:
    """Writes tensors cut from one block of N(0, 1) draws scaled by std."""

    def __init__(self, f, seed):
        self.f = f
        self.rng = random.Random(seed)
        normal = [self.rng.gauss(0.0, 1.0) for _ in range(BLOCK)]
        self.normal = normal
        self.scaled = {}

    def normal_block(self, std):
        if std not in self.scaled:
            self.scaled[std] = floats(x * std for x in self.normal).tobytes()
        return self.scaled[std]

    def constant(self, value, count):
        one = floats([value]).tobytes()
        chunk = one * min(count, BLOCK)
        left = count
        while left > 0:
            n = min(left, BLOCK)
            self.f.write(chunk[: 4 * n])
            left -= n

    def normal_tensor(self, std, count):
        blk = self.normal_block(std)
        pos = self.rng.randrange(BLOCK)
        left = count
        while left > 0:
            n = min(left, BLOCK - pos)
            self.f.write(blk[4 * pos : 4 * (pos + n)])
            left -= n
            pos = 0


def write_model(a):
    V, Vp, T, L, NH, C = a.vocab, a.padded_vocab, a.max_seq, a.layers, a.heads, a.channels
    if Vp == 0:
        Vp = (V + 127) // 128 * 128  # llm.c pads V to a multiple of 128 (train_gpt2.py)
    if Vp < V or C % NH != 0 or min(V, T, L, NH, C) < 1:
        sys.exit("llmc_inputs: need padded_vocab >= vocab, heads dividing channels, sizes >= 1")
    std = 0.02
    res_std = 0.02 / math.sqrt(2 * L)  # GPT-2's scaled residual projections
    with open(a.path, "wb") as f:
        f.write(header([MODEL_MAGIC, MODEL_VERSION, T, V, L, NH, C, Vp]))
        w = Writer(f, a.seed)
        w.normal_tensor(std, V * C)  # wte, real rows
        w.constant(0.0, (Vp - V) * C)  # wte, padding rows
        w.normal_tensor(std, T * C)  # wpe
        w.constant(1.0, L * C)  # ln1w
        w.constant(0.0, L * C)  # ln1b
        w.normal_tensor(std, L * 3 * C * C)  # qkvw
        w.constant(0.0, L * 3 * C)  # qkvb
        w.normal_tensor(res_std, L * C * C)  # attprojw
        w.constant(0.0, L * C)  # attprojb
        w.constant(1.0, L * C)  # ln2w
        w.constant(0.0, L * C)  # ln2b
        w.normal_tensor(std, L * 4 * C * C)  # fcw
        w.constant(0.0, L * 4 * C)  # fcb
        w.normal_tensor(res_std, L * C * 4 * C)  # fcprojw
        w.constant(0.0, L * C)  # fcprojb
        w.constant(1.0, C)  # lnfw
        w.constant(0.0, C)  # lnfb
    n = Vp * C + T * C + L * (12 * C * C + 13 * C) + 2 * C
    print("llmc_inputs: %s: L=%d C=%d NH=%d V=%d (padded %d) maxT=%d, %d parameters"
          % (a.path, L, C, NH, V, Vp, T, n))


def write_tokens(a):
    V, n = a.vocab, a.count
    if not 2 <= V <= 65536 or n < 2:
        sys.exit("llmc_inputs: need 2 <= vocab <= 65536 (uint16 tokens) and count >= 2")
    rng = random.Random(a.seed)
    succ = [[rng.randrange(V) for _ in range(4)] for _ in range(V)]
    toks = array.array("H")
    t = 0
    for _ in range(n):
        toks.append(t)
        # 90%: one of the 4 likely successors; 10%: any token.
        t = rng.choice(succ[t]) if rng.random() < 0.9 else rng.randrange(V)
    if sys.byteorder != "little":
        toks.byteswap()
    with open(a.path, "wb") as f:
        f.write(header([TOKENS_MAGIC, TOKENS_VERSION, n]))
        f.write(toks.tobytes())
    print("llmc_inputs: %s: %d tokens below %d" % (a.path, n, V))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    m = sub.add_parser("model")
    m.add_argument("path")
    m.add_argument("--layers", type=int, default=12)
    m.add_argument("--channels", type=int, default=768)
    m.add_argument("--heads", type=int, default=12)
    m.add_argument("--vocab", type=int, default=50257)
    m.add_argument("--padded-vocab", type=int, default=0, help="0: vocab rounded up to 128")
    m.add_argument("--max-seq", type=int, default=1024)
    m.add_argument("--seed", type=int, default=1)
    t = sub.add_parser("tokens")
    t.add_argument("path")
    t.add_argument("--count", type=int, default=65536)
    t.add_argument("--vocab", type=int, default=1024)
    t.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    (write_model if a.what == "model" else write_tokens)(a)


if __name__ == "__main__":
    main()
