"""`dlzoo generate MODEL_DIR`: sentences from a language model (`dlzoo.generation.generate`)."""

from __future__ import annotations

import json
import sys


def run(args) -> int:
    from dlzoo.generation import generate

    sentences = generate(args.model_dir, start=args.start, n=args.n, temperature=args.temperature,
                         top_k=args.top_k, greedy=args.greedy, max_words=args.max_words,
                         seed=args.seed)
    if args.json:
        print(json.dumps([s.to_dict() for s in sentences], indent=2))
        return 0
    for s in sentences:
        print(s.text + ("" if s.stopped else " ..."))
    if args.seed is None:
        print(f"(seed {sentences[0].seed}: add --seed {sentences[0].seed} to draw these again)",
              file=sys.stderr)
    return 0


def add_parser(sub):
    p = sub.add_parser("generate", help="write sentences with a language model (task "
                                        "text_generation)")
    p.add_argument("model_dir", help="a saved language model (saved_models/NAME)")
    p.add_argument("--start", default="", help='first words the sentences continue, e.g. "a dog"')
    p.add_argument("--temperature", type=float, default=1.0,
                   help="> 0; below 1 more conservative, above 1 more adventurous (default 1)")
    p.add_argument("--top-k", type=int, default=None, metavar="K",
                   help="draw from the K most probable words only (default: all)")
    p.add_argument("--greedy", action="store_true", help="always the most probable word")
    p.add_argument("--max-words", type=int, default=None, metavar="N",
                   help="most words drawn after the start (default: the model's context)")
    p.add_argument("--n", type=int, default=1, help="sentences to write (default 1)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the draws; the same seed writes the same sentences")
    p.add_argument("--json", action="store_true", help="print JSON (text, tokens, log_prob)")
    p.set_defaults(func=run)
