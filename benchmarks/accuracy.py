"""Accuracy benchmark (the robot user), next to benchmarks/speed.py.

    python benchmarks/accuracy.py [--train-cases 40] [--methods ...] [--out docs/benchmark]

The same as ``python -m napari_limnet.benchmark`` (kept for users who rely on it): see
:mod:`napari_limnet.benchmark` for what it measures.
"""

from napari_limnet.benchmark import main

if __name__ == "__main__":
    main()
