"""The annotator's keys (shown in its buttons) and propagation range modes."""

KEYS = {"segment": "S", "commit": "C", "undo": "U", "reset": "R", "next": "N", "toggle": "T", "goto": "G", "edit": "E",
        "learn": "L", "propagate": "P"}
RANGE_MODES = ("All slices", "Up to N slices each way", "Between two slices")
