"""Weight-space interpolation between two weight folders (training/interpolate_weights.py)."""

from __future__ import annotations

import json

import pytest
import torch

from napari_limnet.modeling.weights import MODULE_NAMES, LimNetModels, save_checkpoint
from napari_limnet.training.interpolate_weights import average_states, interpolate_state, interpolate_weights, main


def _folder(tmp_path, name, seed):
    models = LimNetModels.random(seed=seed)
    folder = tmp_path / name
    folder.mkdir()
    for net in MODULE_NAMES:
        save_checkpoint(getattr(models, net), folder / f"{net}.pt")
        (folder / f"{net}.json").write_text(json.dumps({"runs": [{"command": f"train {name}"}] * (1 + (name == "end"))}))
    return folder, models


def test_interpolated_tensors_lie_on_the_line_and_integers_come_from_start():
    start = {"w": torch.zeros(3), "n": torch.tensor(5)}
    end = {"w": torch.ones(3) * 2, "n": torch.tensor(9)}
    out = interpolate_state(start, end, 0.25)
    torch.testing.assert_close(out["w"], torch.full((3,), 0.5))
    assert out["n"].item() == 5 and out["n"].dtype == torch.int64
    with pytest.raises(ValueError, match="alpha"):
        interpolate_state(start, end, 1.5)
    with pytest.raises(ValueError, match="architectures"):
        interpolate_state(start, {"w": end["w"]}, 0.5)
    with pytest.raises(ValueError, match="shapes differ"):
        interpolate_state(start, {"w": torch.ones(4), "n": end["n"]}, 0.5)


def test_folders_interpolate_loadably_and_record_both_ends(tmp_path):
    start, m0 = _folder(tmp_path, "start", 0)
    end, m1 = _folder(tmp_path, "end", 1)
    main(["--start", str(start), "--end", str(end), "--alpha", "0.5", "--out", str(tmp_path / "mid"),
          "--modules", "interaction", "propagation"])
    mid = LimNetModels.load(weights_dir=tmp_path / "mid")
    for net in ("interaction", "propagation"):
        a, b, c = (getattr(m, net).state_dict() for m in (m0, m1, mid))
        for key in a:
            if a[key].is_floating_point():
                torch.testing.assert_close(c[key], (a[key] + b[key]) / 2)
        record = json.loads((tmp_path / "mid" / f"{net}.json").read_text())
        last = record["runs"][-1]
        assert last["alpha"] == 0.5 and last["end"] == str(end) and len(last["end_runs"]) == 1
    for key, value in m0.fusion.state_dict().items():  # not asked for: copied from start
        torch.testing.assert_close(mid.fusion.state_dict()[key], value)
    # the two ends reproduce start and end exactly
    interpolate_weights(start, end, 1.0, tmp_path / "one")
    one = LimNetModels.load(weights_dir=tmp_path / "one")
    for key, value in m1.propagation.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(one.propagation.state_dict()[key], value)


def test_several_ends_average_into_a_soup_and_are_all_recorded(tmp_path):
    start, m0 = _folder(tmp_path, "start", 0)
    ends = [_folder(tmp_path, f"end{i}", i + 1) for i in range(3)]
    main(["--start", str(start), "--end", *(str(f) for f, _ in ends), "--alpha", "1", "--out", str(tmp_path / "soup")])
    soup = LimNetModels.load(weights_dir=tmp_path / "soup")
    for net in MODULE_NAMES:
        states = [getattr(m, net).state_dict() for _, m in ends]
        for key, value in getattr(soup, net).state_dict().items():
            if value.is_floating_point():
                torch.testing.assert_close(value, sum(s[key] for s in states) / 3)
            else:
                assert torch.equal(value, states[0][key])
        last = json.loads((tmp_path / "soup" / f"{net}.json").read_text())["runs"][-1]
        assert last["ends"] == [str(f) for f, _ in ends] and len(last["end_runs"]) == 3 and "soup" in last["kind"]
    with pytest.raises(ValueError, match="nothing to average"):
        average_states([])
    with pytest.raises(ValueError, match="shapes differ"):
        average_states([{"w": torch.ones(3)}, {"w": torch.ones(4)}])


def test_kept_prefixes_come_from_start_and_are_recorded(tmp_path):
    start, m0 = _folder(tmp_path, "start", 0)
    end, m1 = _folder(tmp_path, "end", 1)
    interpolate_weights(start, end, 1.0, tmp_path / "kept", modules=("propagation",), keep=("decoder.presence.",))
    kept = LimNetModels.load(weights_dir=tmp_path / "kept").propagation.state_dict()
    a, b = m0.propagation.state_dict(), m1.propagation.state_dict()
    presence = [k for k in a if k.startswith("decoder.presence.")]
    assert presence
    for key, value in kept.items():
        torch.testing.assert_close(value, a[key] if key in presence or not value.is_floating_point() else b[key])
    last = json.loads((tmp_path / "kept" / "propagation.json").read_text())["runs"][-1]
    assert last["kept_from_start"] == ["decoder.presence."]
