"""Images as people have them: every format and mode decodes to the RGB picture a viewer shows."""

from __future__ import annotations

import io

import numpy as np
from conftest import image_kinds
from PIL import Image

from cvzoo import images


def test_every_image_kind_decodes_to_rgb(tmp_path):
    for name, path in image_kinds(tmp_path).items():
        image = images.decode(path.read_bytes())
        assert image.mode == "RGB", name
        expected = (240, 320) if name == "rotated.jpg" else (320, 240)
        assert image.size == expected, name


def test_conversions_keep_the_picture(tmp_path):
    files = image_kinds(tmp_path)
    gray16 = np.asarray(images.decode(files["gray16.png"].read_bytes()))
    gray8 = np.asarray(images.decode(files["gray.png"].read_bytes()))
    assert np.abs(gray16.astype(int) - gray8.astype(int)).max() <= 1  # 16-bit scaled, not clipped to white
    transparent = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    buffer = io.BytesIO()
    transparent.save(buffer, format="PNG")
    assert np.asarray(images.decode(buffer.getvalue())).min() == 255  # laid on white, not black
