"""tools.video_consistency: the answer on the sample holds when the clip is analysed at
full rate or in fast mode, mirrored, or at half resolution."""
import numpy as np
import pytest

from conftest import SAMPLE_VIDEO
from pipeline.run import DEFAULT_WEIGHTS
from tools.video_consistency import consistency, transform


def test_variants_transform_the_frames():
    f = np.arange(40 * 60 * 3, dtype=np.uint8).reshape(40, 60, 3)
    assert (transform(f, "mirror")[:, 0] == f[:, -1]).all()
    assert transform(f, "half").shape == (20, 30, 3) and transform(f, "crop").shape == (32, 48, 3)
    with pytest.raises(ValueError):
        transform(f, "rotate")


def test_the_samples_answer_holds_in_fast_mode_mirrored_and_at_half_resolution():
    asked = ("fast", "mirror", "half")  # crop (the fourth) is left to the tool's full run over the shared clips
    res = consistency([SAMPLE_VIDEO], str(DEFAULT_WEIGHTS), log=lambda m: None, variants=asked)
    row = res["clips"][str(SAMPLE_VIDEO)]
    assert res["analysed"] == 1 and set(row) == {"reference", *asked}
    assert all("argmax" in row[k] for k in asked), row  # every variant is analysed
    for k in ("fast", "mirror", "half"):
        assert res["agreement"][k] == 1.0, (k, row[k], row["reference"])
    assert row["mirror"]["view"] == row["reference"]["view"] == "side"
