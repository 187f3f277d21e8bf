"""Training throughput (tokens/s) of the default model size and three others, on synthetic windows.

Usage: python bench/train_speed.py [--steps 8] [--batch-size 16] [--max-len 256]
Prints a table; the numbers depend on the machine's cores (the target machine has 2).
"""

from __future__ import annotations

import argparse
import time

from nianbao.model import build_vocab, make_char_tokenizer, build_model
from nianbao.synth import generate
from nianbao.train import Config, WindowConfig, make_examples, _collate, load_config

SIZES = {
    "small (configs/small.yaml)": {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 256},
    "default": {},
    "h256, 4 layers": {"num_hidden_layers": 4},
    "large (h384, 6 layers)": {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 6, "intermediate_size": 1536},
}


def measure(cfg: Config, steps: int, batch_size: int) -> float:
    """Tokens per second over `steps` optimiser steps (after one warm-up step)."""
    import torch

    docs = generate(60, seed=5)
    vocab = build_vocab(d.text for d in docs)
    tok = make_char_tokenizer(vocab)
    model = build_model(cfg.model, vocab_size=len(vocab))
    examples = make_examples(docs, tok, cfg.window, cfg.window.max_len + 2, cfg.model.rule_features)
    examples.sort(key=lambda e: -len(e["input_ids"]))  # full windows: the worst case
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    tokens, started = 0, 0.0
    for step in range(steps + 1):
        batch = examples[(step * batch_size) % len(examples):][:batch_size] or examples[:batch_size]
        inputs = _collate(batch, 0)
        if step == 1:
            started = time.perf_counter()
        loss = model(**inputs).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        if step >= 1:
            tokens += int(inputs["attention_mask"].sum())
    return tokens / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--config", default="configs/default.yaml")
    args = parser.parse_args()
    print("| size | hidden | layers | max_len | tokens/s |")
    print("| --- | --- | --- | --- | --- |")
    for name, sizes in SIZES.items():
        cfg = load_config(args.config, [f"model.{k}={v}" for k, v in sizes.items()])
        speed = measure(cfg, args.steps, args.batch_size)
        m = cfg.model
        print(f"| {name} | {m.hidden_size} | {m.num_hidden_layers} | {cfg.window.max_len} | {speed:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
