"""Does a candidate replace the shipped weights? Prints SHIP or NOT, and why (issue 35's rule).

    python -m napari_limnet.benchmark --methods limnet candidate --candidate runs/cand \\
        --robot-jitter 2 --robot-seeds 1 2 3 4 5 6 7 8 --out runs/rule --name dev
    python -m napari_limnet.benchmark --no-dev --synthetic 0 --train-cases 40 --methods limnet candidate \\
        --candidate runs/cand --robot-jitter 2 --robot-seeds 1 2 3 4 5 6 7 8 --out runs/rule --name train
    python benchmarks/shipping_rule.py runs/rule/dev.json --train runs/rule/train.json

The rule itself: :mod:`napari_limnet.evaluation.shipping_rule`. Exit code 0 for SHIP, 1 for NOT.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from napari_limnet.evaluation.shipping_rule import shipping_rule, verdict_text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dev_report", help="a pooled benchmark report (--robot-seeds) holding both methods on the dev cases")
    p.add_argument("--train", default=None, help="the same on the held-out training structures (else the dev report's)")
    p.add_argument("--old", default="limnet")
    p.add_argument("--new", default="candidate")
    args = p.parse_args(argv)
    dev = json.loads(Path(args.dev_report).read_text())
    train = json.loads(Path(args.train).read_text()) if args.train else None
    result = shipping_rule(dev, train, args.old, args.new)
    print(verdict_text(result))
    return 0 if result["ship"] else 1


if __name__ == "__main__":
    sys.exit(main())
