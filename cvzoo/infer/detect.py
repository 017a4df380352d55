"""Detection: boxes with labels and scores, and per model a mask or 17 keypoints per object.

Exactly torchvision's reference use: the weights' ``transforms()`` (pixels to floats), the model
on a list of images, which resizes them itself and gives boxes back in the original image's
pixels. Detections under ``--threshold`` are left out, the rest kept up to ``--top-k``; Mask
R-CNN's masks are its probabilities at ``--mask-threshold`` or above.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from cvzoo.catalog import Task
from cvzoo.errors import first_line
from cvzoo.infer import Options, Work, class_count, class_names, weights_of
from cvzoo.infer.decoding import Decoded, batches, decoded
from cvzoo.infer.results import Canvas, Detection, Keypoint, Result, rle
from cvzoo.registry import BuiltModel
from cvzoo.runtime import Prepared


def run(work: Work) -> Iterator[tuple[Result, Canvas | None]]:
    """The objects found in each image, in input order.

    Images of one size go through the model together; images of different sizes never do,
    since a batch pads them to a common size and that moves their boxes a little: each image
    gets exactly what it would get alone.
    """
    built, ready, sources, options, on_image = work
    weights = weights_of(built)
    keypoint_names = list(weights.meta.get("keypoint_names") or [])
    names = class_names(built, class_count(built, weights), _with_background(options, built, weights))
    done = 0
    for batch in batches(decoded(sources, weights.transforms(), keep_picture=True), options.batch_size):
        outputs = _detect(ready, [d for d in batch if d.error is None])
        for d in batch:
            name = sources[d.index].name
            output = outputs.get(d.index)
            if d.error is not None:
                yield Result(image=name, task=Task.detection.value, error=d.error), None
                continue
            if isinstance(output, str):
                yield Result(image=name, task=Task.detection.value, error=output), None
                continue
            assert output is not None
            kept = _kept(output, options)
            detections = [
                _detection(kept, i, names, keypoint_names, options) for i in range(len(kept["scores"]))
            ]
            result = Result(name, Task.detection.value, detections=detections, warning=d.warning)
            masks = kept["masks"][:, 0] >= options.mask_threshold if "masks" in kept else None
            yield (
                result,
                Canvas(d.picture, masks=masks, extra={"keypoint_names": keypoint_names})
                if options.pictures
                else None,
            )
        done += len(batch)
        if on_image:
            on_image(done)


def _detect(ready: Prepared, good: list[Decoded]) -> dict[int, dict[str, Any] | str]:
    """Each image's output (or why the model failed on it), images of one size run together."""
    import torch

    groups: dict[tuple[int, ...], list[Decoded]] = {}
    for d in good:
        groups.setdefault(tuple(d.tensor.shape), []).append(d)
    outputs: dict[int, dict[str, Any] | str] = {}
    for group in groups.values():
        try:
            with torch.inference_mode(), ready.autocast():
                found = ready.model([d.tensor.to(ready.device) for d in group])
        except Exception as exc:  # an image the model can't take (a sliver 3 pixels wide) fails alone
            if len(group) > 1:
                for d in group:
                    outputs.update(_detect(ready, [d]))
                continue
            outputs[group[0].index] = f"cannot detect: {first_line(exc)}"
            continue
        outputs.update({d.index: _on_cpu(out) for d, out in zip(group, found, strict=True)})
    return outputs


def _with_background(options: Options, built: BuiltModel, weights: Any) -> Options:
    """``--labels`` naming only the objects (no background class first) get it added at index 0."""
    labels = options.labels
    if labels is not None and len(labels) == class_count(built, weights) - 1:
        return replace(options, labels=[weights.meta["categories"][0], *labels])
    return options


def _on_cpu(output: dict[str, Any]) -> dict[str, Any]:
    """A model's output for one image on the CPU, its numbers as floats (autocast gives bf16/fp16)."""
    return {k: v.cpu().float() if v.is_floating_point() else v.cpu() for k, v in output.items()}


def _kept(output: dict[str, Any], options: Options) -> dict[str, Any]:
    """The detections at or over the threshold (the model gives them best first), up to top-k."""
    keep = output["scores"] >= options.threshold
    kept = {k: v[keep] for k, v in output.items()}
    if options.top_k is not None:
        kept = {k: v[: options.top_k] for k, v in kept.items()}
    return kept


def _detection(
    kept: dict[str, Any], i: int, names: list[str], keypoint_names: list[str], options: Options
) -> Detection:
    label = int(kept["labels"][i])
    detection = Detection(
        index=label,
        label=names[label] if label < len(names) else str(label),
        score=round(float(kept["scores"][i]), 6),
        box=[round(float(c), 4) for c in kept["boxes"][i]],
    )
    if "masks" in kept:
        detection = replace(detection, mask=rle(kept["masks"][i, 0] >= options.mask_threshold))
    if "keypoints" in kept:
        points = kept["keypoints"][i]
        scores = kept["keypoints_scores"][i]
        named = [
            Keypoint(name, round(float(p[0]), 4), round(float(p[1]), 4), round(float(s), 6))
            for name, p, s in zip(keypoint_names, points, scores, strict=True)
        ]
        detection = replace(detection, keypoints=named)
    return detection
