#!/usr/bin/python3
"""torch_step.py: the PyTorch side of the training-step benchmark.

A nanoGPT-style GPT-2 (LayerNorm, tanh GELU, fused c_attn, lm_head tied to wte, biases everywhere
but the head) in eager float32, stepped exactly like bench_train_step: zero the gradients, forward
with the mean cross-entropy over every position, backward, clip the global gradient norm to 1.0,
AdamW (betas 0.9/0.95, eps 1e-8, weight decay 0.1 on tensors of two or more dimensions).

Run it with /usr/bin/python3 (the interpreter that has torch). OPENBLAS_NUM_THREADS is forced to
--threads before torch is imported, because torch.set_num_threads does not govern OpenBLAS's own
thread pool, which is what nn.Linear runs on here. The last line printed is machine-readable
("result key=value ..."); bench/perf/run.sh reads it.
"""
import argparse
import inspect
import math
import os
import resource
import statistics
import sys
import time

SHAPES = {
    "S1": dict(L=4, C=256, NH=4, V=4096, T=128, B=16),
    "S2": dict(L=12, C=768, NH=12, V=50304, T=64, B=4),
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", choices=sorted(SHAPES), default="S1")
    for dim in ("L", "C", "NH", "V", "T", "B"):
        p.add_argument("--" + dim, type=int, default=None, help="override the preset's " + dim)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    dims = dict(SHAPES[a.shape])
    overridden = {k: getattr(a, k) for k in dims if getattr(a, k) is not None}
    dims.update(overridden)
    a.shape_name = "custom" if overridden else a.shape
    a.dims = dims
    for k, v in list(dims.items()) + [("steps", a.steps), ("warmup", a.warmup), ("threads", a.threads)]:
        if v < 1:
            p.error(f"--{k} must be a positive integer, got {v}")
    if dims["C"] % dims["NH"]:
        p.error(f"--C {dims['C']} is not divisible by --NH {dims['NH']}")
    return a


args = parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)  # read by OpenBLAS when torch loads it

import torch  # noqa: E402  (after the environment is set)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class CausalSelfAttention(nn.Module):
    def __init__(self, C, NH, T):
        super().__init__()
        self.n_head = NH
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)).view(1, 1, T, T))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        hs = C // self.n_head
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B,NH,T,HS)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B,NH,T,T)
        att = att.masked_fill(~self.mask[:, :, :T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.c_fc = nn.Linear(C, 4 * C)
        self.gelu = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(4 * C, C)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, C, NH, T):
        super().__init__()
        self.ln_1 = nn.LayerNorm(C)
        self.attn = CausalSelfAttention(C, NH, T)
        self.ln_2 = nn.LayerNorm(C)
        self.mlp = MLP(C)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, L, C, NH, V, T):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.h = nn.ModuleList(Block(C, NH, T) for _ in range(L))
        self.ln_f = nn.LayerNorm(C)
        self.lm_head = nn.Linear(C, V, bias=False)
        self.lm_head.weight = self.wte.weight  # tied, as in GPT-2
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # residual projections scaled by 1/sqrt(2L)
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * L))

    @staticmethod
    def _init_weights(mod):
        if isinstance(mod, (nn.Linear, nn.Embedding)):
            nn.init.normal_(mod.weight, mean=0.0, std=0.02)
        if isinstance(mod, nn.Linear) and mod.bias is not None:
            nn.init.zeros_(mod.bias)

    def forward(self, idx, targets):
        B, T = idx.size()
        pos = torch.arange(T, dtype=torch.long)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))  # (B,T,V)
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    def num_params(self):
        """Parameters without the position table (the N of 6*N*B*T); the tied head counts once."""
        return sum(p.numel() for p in self.parameters()) - self.wpe.weight.numel()


def make_optimizer(model):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}]
    kw = dict(lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    # the brief asks for fused=False; torch 1.13's AdamW has no fused path at all, so it is only passed
    # where the argument exists. foreach stays at its default.
    if "fused" in inspect.signature(torch.optim.AdamW.__init__).parameters:
        kw["fused"] = False
    return torch.optim.AdamW(groups, **kw)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def cpu_seconds():
    """User + system CPU seconds of this process, all threads (run.sh uses it to spot other load)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def mm_gflops(n, reps=5):
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t0)
    return 2.0 * n ** 3 / statistics.median(times) / 1e9


def main():
    d = args.dims
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    print(f"# torch {torch.__version__}; python {sys.version.split()[0]}; intra-op threads {torch.get_num_threads()}")
    print("# env: " + " ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in
                               ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")))
    print(f"# shape {args.shape_name}: " + " ".join(f"{k}={v}" for k, v in d.items())
          + f"; {args.warmup} warmup + {args.steps} timed steps; seed {args.seed}")

    model = GPT(d["L"], d["C"], d["NH"], d["V"], d["T"])
    model.train()
    opt = make_optimizer(model)
    params = list(model.parameters())
    gen = torch.Generator().manual_seed(args.seed)
    fwd, bwd, upd, step = [], [], [], []
    losses = []
    for s in range(args.warmup + args.steps):
        x = torch.randint(0, d["V"], (d["B"], d["T"]), generator=gen)
        y = torch.randint(0, d["V"], (d["B"], d["T"]), generator=gen)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        t1 = time.perf_counter()
        loss = model(x, y)
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        t4 = time.perf_counter()
        losses.append(loss.item())
        if not (math.isfinite(losses[-1]) and math.isfinite(norm.item())):
            sys.exit(f"error: step {s}: loss {losses[-1]}, gradient norm {norm.item()} is not finite")
        if s >= args.warmup:
            fwd.append(t2 - t1)
            bwd.append(t3 - t2)
            upd.append((t1 - t0) + (t4 - t3))
            step.append(t4 - t0)
    rss = peak_rss_mib()  # before the matmul check allocates anything
    mm = mm_gflops(2048)

    BT = d["B"] * d["T"]
    flops = 6.0 * model.num_params() * BT + 6.0 * d["L"] * BT * d["T"] * d["C"]
    med = statistics.median
    st = med(step)
    print(f"# params without positions N={model.num_params()}; {flops / 1e9:.2f} GFLOP per step")
    print(f"# step ms: median {st * 1e3:.1f} (min {min(step) * 1e3:.1f}, max {max(step) * 1e3:.1f} over "
          f"{len(step)} steps); fwd {med(fwd) * 1e3:.1f} bwd {med(bwd) * 1e3:.1f} opt {med(upd) * 1e3:.1f}")
    print(f"# {BT / st:.0f} tokens/s, {flops / st / 1e9:.1f} GFLOP/s; torch.mm 2048^3 {mm:.1f} GFLOP/s")
    print(f"# loss first {losses[0]:.4f} last {losses[-1]:.4f} (ln V = {math.log(d['V']):.4f}); "
          f"peak RSS {rss:.0f} MiB")
    print(f"result impl=torch shape={args.shape_name} threads={args.threads} steps={len(step)} "
          f"fwd_ms={med(fwd) * 1e3:.2f} bwd_ms={med(bwd) * 1e3:.2f} opt_ms={med(upd) * 1e3:.2f} "
          f"step_ms={st * 1e3:.2f} step_min_ms={min(step) * 1e3:.2f} step_max_ms={max(step) * 1e3:.2f} "
          f"tok_s={BT / st:.1f} gflop_step={flops / 1e9:.3f} gflops={flops / st / 1e9:.2f} "
          f"torch_mm_2048={mm:.2f} peak_rss_mib={rss:.0f} loss_last={losses[-1]:.4f} cpu_s={cpu_seconds():.2f}")


if __name__ == "__main__":
    main()
