"""Make the README's pictures of `cvzoo infer --out` from scikit-image's sample images.

Run: pip install scikit-image && python docs/make_pictures.py
The images (astronaut, chelsea, coffee, rocket) are public domain or CC0 and ship with
scikit-image. Models use the weights in torchvision's cache when they are there; where they are
not (an offline machine), random weights are planted in a temporary TORCH_HOME instead, and the
pictures then show how cvzoo draws, not what a trained model sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
OUT = HERE / "pictures"
JOBS = [  # (model, image names, extra options)
    ("efficientnet_b0", ["chelsea"], ["-k", "3"]),
    ("maskrcnn_resnet50_fpn", ["astronaut"], ["--threshold", "0.3", "-k", "4"]),
    ("keypointrcnn_resnet50_fpn", ["astronaut"], ["-k", "1", "--threshold", "0"]),
    ("deeplabv3_mobilenet_v3_large", ["coffee"], []),
    ("raft_small", ["coffee", "coffee_moved"], []),
    ("r3d_18", ["rocket.gif"], ["-k", "3"]),
]


def images(folder: Path) -> None:
    """The sample images as files, a moved copy of coffee (for flow) and a rocket clip (a GIF)."""
    import numpy as np
    from PIL import Image
    from skimage import data

    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        Image.fromarray(getattr(data, name)()).save(folder / f"{name}.png")
    coffee = data.coffee()
    Image.fromarray(np.roll(coffee, (6, 10), axis=(0, 1))).save(folder / "coffee_moved.png")
    rocket = Image.fromarray(data.rocket())
    frames = [
        rocket.crop((i * 8, 40 - i * 3, 480 + i * 8, 400 - i * 3)).resize((240, 180)) for i in range(16)
    ]
    frames[0].save(folder / "rocket.gif", save_all=True, append_images=frames[1:], duration=66)


def main() -> None:
    """Run each job's model on its images and keep one picture per model in docs/pictures."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from conftest import plant_weights

    from cvzoo.catalog import load_catalog
    from cvzoo.weights import cached_weights_path

    zoo = load_catalog()
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        images(folder)
        planted = []
        real = os.environ.get("TORCH_HOME")
        os.environ["TORCH_HOME"] = str(folder / "torch")
        for model, _, _ in JOBS:
            name = cached_weights_path(zoo.get(model).default).name
            trained = Path(real or "-") / "hub" / "checkpoints" / name
            if trained.is_file():  # the real weights, where the user has them
                target = folder / "torch" / "hub" / "checkpoints" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(trained, target)
                continue
            plant_weights(model)
            planted.append(model)
        OUT.mkdir(exist_ok=True)
        for model, names, extra in JOBS:
            inputs = [str(folder / (n if "." in n else f"{n}.png")) for n in names]
            drawn = folder / model
            command = [sys.executable, "-m", "cvzoo", "infer", model, *inputs, "--out", str(drawn), *extra]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            (picture,) = drawn.iterdir()
            picture.replace(OUT / f"{model}.png")  # one picture per model, named after it
        print("random weights planted for:", ", ".join(planted) or "none", file=sys.stderr)


if __name__ == "__main__":
    main()
