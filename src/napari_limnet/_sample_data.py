"""npe2 sample-data contributions: generated volumes, nothing downloaded (see :mod:`napari_limnet.data.samples`)."""

from __future__ import annotations

from .data import samples


def _layers(sample: samples.Sample):
    return [
        (
            sample.image,
            {"name": sample.name, "scale": sample.spacing, "metadata": {"unit": sample.unit, "sample_click": sample.click}},
            "image",
        )
    ]


def ct_abdomen():
    return _layers(samples.ct_abdomen())


def mri_head():
    return _layers(samples.mri_head())


def nuclei():
    return _layers(samples.nuclei())
