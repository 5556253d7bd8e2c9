#!/usr/bin/python3
"""Cross-checks one dump_model file against an independent PyTorch (float64) implementation.

Rebuilds the model of the dump's family from its config and parameters, recomputes the logits, the
SFT loss (mean cross-entropy over targets >= 0) and every parameter gradient, and compares each with
the C values: err = max|c - t| / max(max|t|, 1e-30) must be <= the tolerance for every tensor.

usage: /usr/bin/python3 check_model.py DUMP.h5 [--tol 1e-4] [--corrupt NAME]
  --corrupt NAME  perturbs one element of the C gradient NAME by 1e-3 of the tensor's largest
                  magnitude before comparing, to show that the check detects a wrong gradient.
Exit status: 0 when every tensor agrees, 1 on a mismatch, 2 when the dump cannot be used.
"""
import argparse
import math
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

# LoRA kind -> the linear layer it adapts, per family (Hugging Face names, within a layer)
GPT2_LINEARS = {"q": "attn.c_attn", "o": "attn.c_proj", "up": "mlp.c_fc", "down": "mlp.c_proj"}
LLAMA_LINEARS = {"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj",
                 "o": "self_attn.o_proj", "up": "mlp.up_proj", "gate": "mlp.gate_proj",
                 "down": "mlp.down_proj"}


class Model:
    """The forward pass of both families, written from the model definition, on named leaf tensors."""

    def __init__(self, cfg, params):
        self.cfg = cfg
        self.p = params  # name -> float64 leaf tensor with requires_grad
        self.used = set()

    def w(self, name):
        """Parameter by name; records the use so that unused dump tensors can be reported."""
        self.used.add(name)
        return self.p[name]

    def has(self, name):
        return name in self.p

    def linear(self, x, layer, kind, full_name):
        """x (B,T,in) -> (B,T,out): x W^T + b, plus (alpha/r) (x A^T) B^T when kind has LoRA."""
        y = x @ self.w(full_name + ".weight").t()
        if self.has(full_name + ".bias"):
            y = y + self.w(full_name + ".bias")
        lora = "lora.%d.%s" % (layer, kind)
        if self.has(lora + ".A"):
            scale = self.cfg["lora_alpha"] / self.cfg["lora_rank"]
            y = y + scale * ((x @ self.w(lora + ".A").t()) @ self.w(lora + ".B").t())
        return y

    def prefix(self, layer):
        """Prefix keys and values (NKV, P, HS) of a layer, or (None, None)."""
        name = "prefix.%d" % layer
        if not self.has(name + ".key"):
            return None, None
        P, NKV = self.cfg["n_prefix"], self.cfg["n_kv_head"]
        HS = self.cfg["n_embd"] // self.cfg["n_head"]
        split = lambda t: t.view(P, NKV, HS).transpose(0, 1)
        return split(self.w(name + ".key")), split(self.w(name + ".value"))

    def attention(self, q, k, v, pk, pv):
        """q (B,NH,T,HS), k, v (B,NKV,T,HS), pk, pv (NKV,P,HS) or None -> (B,T,NH*HS).
        Query head h reads kv head h // (NH/NKV); query t sees every prefix slot and keys 0..t."""
        B, NH, T, HS = q.shape
        G = NH // k.shape[1]
        if pk is not None:
            P = pk.shape[1]
            k = torch.cat([pk.unsqueeze(0).expand(B, -1, -1, -1), k], dim=2)
            v = torch.cat([pv.unsqueeze(0).expand(B, -1, -1, -1), v], dim=2)
        else:
            P = 0
        k = k.repeat_interleave(G, dim=1)
        v = v.repeat_interleave(G, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(HS)  # (B,NH,T,P+T)
        t = torch.arange(T).view(T, 1)
        col = torch.arange(P + T).view(1, P + T)
        visible = (col < P) | (col - P <= t)
        scores = scores.masked_fill(~visible, float("-inf"))
        y = torch.softmax(scores, dim=-1) @ v  # (B,NH,T,HS)
        return y.transpose(1, 2).reshape(B, T, NH * HS)

    def heads(self, x, n):
        """(B,T,n*HS) -> (B,n,T,HS)"""
        B, T, _ = x.shape
        return x.view(B, T, n, -1).transpose(1, 2)

    # ---- gpt2 ------------------------------------------------------------------------------------

    def layernorm(self, x, name):
        return F.layer_norm(x, (x.shape[-1],), self.w(name + ".weight"), self.w(name + ".bias"),
                            self.cfg["norm_eps"])

    def gpt2_block(self, x, l):
        c = self.cfg
        C, NH = c["n_embd"], c["n_head"]
        pre = "transformer.h.%d." % l
        h = self.layernorm(x, pre + "ln_1")
        qkv = self.linear(h, l, "q", pre + "attn.c_attn")
        q, k, v = (self.heads(t, NH) for t in qkv.split(C, dim=-1))
        pk, pv = self.prefix(l)
        x = x + self.linear(self.attention(q, k, v, pk, pv), l, "o", pre + "attn.c_proj")
        h = self.layernorm(x, pre + "ln_2")
        h = F.gelu(self.linear(h, l, "up", pre + "mlp.c_fc"), approximate="tanh")
        return x + self.linear(h, l, "down", pre + "mlp.c_proj")

    def gpt2_logits(self, inp):
        T = inp.shape[1]
        wte = self.w("transformer.wte.weight")
        x = wte[inp] + self.w("transformer.wpe.weight")[:T]
        for l in range(self.cfg["n_layer"]):
            x = self.gpt2_block(x, l)
        return self.layernorm(x, "transformer.ln_f") @ wte.t()

    # ---- llama -----------------------------------------------------------------------------------

    def rmsnorm(self, x, name):
        ms = (x * x).mean(dim=-1, keepdim=True)
        return x * torch.rsqrt(ms + self.cfg["norm_eps"]) * self.w(name)

    def rope(self, x):
        """HF rotate_half rotary embedding of x (B,n,T,HS) at positions 0..T-1."""
        T, HS = x.shape[2], x.shape[3]
        inv_freq = self.cfg["rope_theta"] ** (-torch.arange(0, HS, 2) / HS)  # (HS/2)
        ang = torch.arange(T).view(T, 1) * inv_freq.view(1, -1)  # (T,HS/2)
        cos = torch.cat([ang.cos(), ang.cos()], dim=-1)
        sin = torch.cat([ang.sin(), ang.sin()], dim=-1)
        x1, x2 = x[..., : HS // 2], x[..., HS // 2:]
        return x * cos + torch.cat([-x2, x1], dim=-1) * sin

    def llama_block(self, x, l):
        c = self.cfg
        NH, NKV = c["n_head"], c["n_kv_head"]
        pre = "model.layers.%d." % l
        h = self.rmsnorm(x, pre + "input_layernorm.weight")
        q = self.rope(self.heads(self.linear(h, l, "q", pre + "self_attn.q_proj"), NH))
        k = self.rope(self.heads(self.linear(h, l, "k", pre + "self_attn.k_proj"), NKV))
        v = self.heads(self.linear(h, l, "v", pre + "self_attn.v_proj"), NKV)
        pk, pv = self.prefix(l)
        x = x + self.linear(self.attention(q, k, v, pk, pv), l, "o", pre + "self_attn.o_proj")
        h = self.rmsnorm(x, pre + "post_attention_layernorm.weight")
        gate = self.linear(h, l, "gate", pre + "mlp.gate_proj")
        up = self.linear(h, l, "up", pre + "mlp.up_proj")
        return x + self.linear(F.silu(gate) * up, l, "down", pre + "mlp.down_proj")

    def llama_logits(self, inp):
        wte = self.w("model.embed_tokens.weight")
        x = wte[inp]
        for l in range(self.cfg["n_layer"]):
            x = self.llama_block(x, l)
        x = self.rmsnorm(x, "model.norm.weight")
        head = wte if self.cfg["tie_embeddings"] else self.w("lm_head.weight")
        return x @ head.t()

    def logits(self, inp):
        return self.gpt2_logits(inp) if self.cfg["family"] == "gpt2" else self.llama_logits(inp)


def read_config(f):
    cfg = {}
    for key, val in f.attrs.items():
        if isinstance(val, bytes):
            cfg[key] = val.decode()
        elif isinstance(val, np.floating):
            cfg[key] = float(val)
        else:
            cfg[key] = int(val)
    return cfg


def rel_err(c, t):
    """max|c - t| / max(max|t|, 1e-30), with c, t float64 numpy arrays of one shape."""
    if c.shape != t.shape:
        return math.inf
    return float(np.max(np.abs(c - t), initial=0.0) / max(np.max(np.abs(t), initial=0.0), 1e-30))


def corrupt(grads, name):
    """Moves one element of grads[name] by 1e-3 of the tensor's largest magnitude."""
    if name not in grads:
        sys.exit("check_model: --corrupt %s: no such gradient in the dump" % name)
    g = grads[name].copy()
    flat = g.reshape(-1)
    flat[0] += 1e-3 * max(np.max(np.abs(flat)), 1e-30)
    grads[name] = g


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dump")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--corrupt", metavar="NAME")
    args = ap.parse_args()

    try:
        with h5py.File(args.dump, "r") as f:
            cfg = read_config(f)
            inp = torch.from_numpy(f["inp"][...].astype(np.int64))
            targets = torch.from_numpy(f["targets"][...].astype(np.int64))
            c_logits = f["logits"][...].astype(np.float64)
            c_loss = float(f["loss"][()])
            values = {n: d[...].astype(np.float64) for n, d in f["params"].items()}
            c_grads = {n: d[...].astype(np.float64) for n, d in f["grad"].items()}
    except (OSError, KeyError) as e:
        print("check_model: cannot read %s: %s (was it written by dump_model?)" % (args.dump, e))
        return 2
    if args.corrupt:
        corrupt(c_grads, args.corrupt)

    params = {n: torch.tensor(v, requires_grad=True) for n, v in values.items()}
    model = Model(cfg, params)
    logits = model.logits(inp)
    V = cfg["vocab_size"]
    loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=-1, reduction="mean")
    loss.backward()

    unused = sorted(set(params) - model.used)
    if unused:
        print("check_model: FAIL: the dump has tensors the reference model does not use "
              "(a naming or layout mismatch): %s" % ", ".join(unused))
        return 1

    # (name, relative error, max|t|): logits and loss first, then every gradient
    rows = [("logits", rel_err(c_logits, logits.detach().numpy()), float(logits.abs().max())),
            ("loss", rel_err(np.array(c_loss), np.array(loss.item())), abs(loss.item()))]
    for name in sorted(params):
        t = params[name].grad
        t = np.zeros_like(values[name]) if t is None else t.numpy()
        c = c_grads.get(name)
        rows.append(("grad/" + name, math.inf if c is None else rel_err(c, t), float(np.max(np.abs(t)))))

    desc = "%s L=%d C=%d NH=%d NKV=%d qkv_bias=%d tie=%d prefix=%d lora_rank=%d" % (
        cfg["family"], cfg["n_layer"], cfg["n_embd"], cfg["n_head"], cfg["n_kv_head"], cfg["qkv_bias"],
        cfg["tie_embeddings"], cfg["n_prefix"], cfg["lora_rank"])
    print("check_model: %s: %d tensors, tolerance %.1e" % (desc, len(rows), args.tol))
    print("  %-56s %12s %12s" % ("tensor", "rel.err", "max|torch|"))
    for name, err, scale in rows:
        flag = "  <-- MISMATCH" if not err <= args.tol else ""
        print("  %-56s %12.3e %12.3e%s" % (name, err, scale, flag))
    bad = [r for r in rows if not r[1] <= args.tol]
    worst = max(rows, key=lambda r: r[1])
    print("check_model: worst relative error %.3e (%s)" % (worst[1], worst[0]))
    if bad:
        print("check_model: FAIL: %d of %d tensors exceed %.1e: %s" % (
            len(bad), len(rows), args.tol, ", ".join(r[0] for r in bad)))
        return 1
    print("check_model: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
