"""DeepDream and generating images from a classifier.

Lecture section 14 «Нейроискусство» and «Генерация изображений» (neural art; generating images).
Papers: A. Mordvintsev, C. Olah, M. Tyka (2015), "Inceptionism: Going Deeper into Neural Networks",
Google Research blog (DeepDream); K. Simonyan, A. Vedaldi, A. Zisserman (2014), "Deep Inside
Convolutional Networks: Visualising Image Classification Models and Saliency Maps" (class models).

Three ways of climbing the gradient of a network *with respect to its input*:

- :func:`deepdream`: start from a photo and amplify whatever a layer already sees in it: maximize
  ``mean(a_l^2)`` (:func:`~lecture_utils.optimize.layer_l2`) or one channel, by gradient ascent
  with the step divided by the mean absolute gradient (gradient normalization), a random shift
  (jitter) at every step, and **octaves**: the photo is processed from a small scale to the full
  one, and the detail added at one scale is upsampled and carried to the next.
- :func:`class_transfer`: start from a photo and climb another class's logit while a penalty keeps
  the image close to the photo, until the network's decision flips.
- :func:`class_images`: start from noise and climb class logits with the best recipe of lecture 12
  (decorrelated Fourier parametrization + transformation robustness).

Images handed in are *preprocessed* tensors (1, 3, H, W) as ``zoo.preprocess`` makes them; images
handed out are RGB arrays (H, W, 3) in [0, 1]. A plain ``nn.Module`` is accepted too: its input is
then taken to be RGB in [0, 1] itself (identity normalization), which the tests use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import optimize
from .checks import check_choice, check_finite, check_int, check_non_negative, check_positive, seeded
from .hooks import forward_until_stop, get_layer, preserved_state, record, run_until, stop_after
from .models import ZooModel, as_zoo
from .optimize import (
    INPUT,
    FFTImage,
    Objective,
    PixelImage,
    RenderResult,
    Transform,
    class_logit,
    layer_l2,
    render,
    robust_transforms,
)
from .targets import check_image, resolve_class

__all__ = [
    "MIN_OCTAVE_SIDE",
    "octave_sizes",
    "dream_objective",
    "Octave",
    "deepdream",
    "deepdream_octaves",
    "dream_score",
    "closeness",
    "class_transfer",
    "TransferResult",
    "PARAMS",
    "robust_transforms",
    "class_images",
    "probabilities",
    "to_input",
]

MIN_OCTAVE_SIDE = 16  # the smallest octave must still be an image, not a few pixels


# --------------------------------------------------------------------------- checks and helpers


def _rgb(zoo: ZooModel, image: torch.Tensor) -> torch.Tensor:
    """Preprocessed (1, 3, H, W) -> RGB (1, 3, H, W) in [0, 1] on the model's device."""
    check_image(image)
    check_finite(image, "image", "the photo must be a real picture")
    with torch.no_grad():
        return zoo.normalize.inverse(image.detach().to(zoo.device).float()).clamp(0, 1)


def _to_hwc(x: torch.Tensor) -> np.ndarray:
    return x.detach()[0].permute(1, 2, 0).clamp(0, 1).cpu().numpy()


def to_input(zoo: ZooModel, images: np.ndarray | Sequence[np.ndarray]) -> torch.Tensor:
    """RGB images (H, W, 3) or (N, H, W, 3) in [0, 1] -> preprocessed input (N, 3, H, W)."""
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"images must have shape (H, W, 3) or (N, H, W, 3), got {tuple(x.shape)}")
    check_finite(x, "images", "RGB values must be finite numbers in [0, 1]")
    return zoo.normalize(x.permute(0, 3, 1, 2).to(zoo.device))


# --------------------------------------------------------------------------- DeepDream


def octave_sizes(size: tuple[int, int], octaves: int, octave_scale: float) -> list[tuple[int, int]]:
    """The image sizes DeepDream works at, smallest first: ``round(side / octave_scale**k)`` for
    k = octaves-1, ..., 1, 0 (the last is ``size`` itself).

    Example: ``octave_sizes((224, 224), 3, 2.0) == [(56, 56), (112, 112), (224, 224)]``.
    Raises ``ValueError`` for bad parameters or when the smallest octave is under
    :data:`MIN_OCTAVE_SIDE` pixels.
    """
    octaves = check_int(octaves, "octaves", low=1)
    scale = check_positive(octave_scale, "octave_scale")
    if scale <= 1:
        raise ValueError(f"octave_scale must be > 1 (each octave is that much smaller), got {octave_scale!r}")
    h, w = (int(s) for s in size)
    sizes = [(round(h / scale**k), round(w / scale**k)) for k in range(octaves - 1, -1, -1)]
    if min(sizes[0]) < MIN_OCTAVE_SIDE:
        raise ValueError(
            f"{octaves} octaves with octave_scale={scale:g} make the smallest octave {sizes[0][0]}x{sizes[0][1]} "
            f"pixels (< {MIN_OCTAVE_SIDE}): use fewer octaves, a smaller octave_scale or a larger image"
        )
    return sizes


def dream_objective(layer: str, channel: int | None = None) -> Objective:
    """DeepDream's objective: ``mean(a^2)`` of the whole layer, or the mean of one ``channel``."""
    if channel is None:
        return layer_l2(layer)
    return optimize.channel(layer, check_int(channel, "channel", low=0))


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


@dataclass
class Octave:
    """One octave of DeepDream: ``base`` the photo resized to ``size`` (h, w), ``image`` the result
    after this octave's steps; both RGB (h, w, 3) in [0, 1]. ``detail = image - base`` is what
    the octaves so far have added (it is carried, upsampled, to the next octave)."""

    size: tuple[int, int]
    base: np.ndarray
    image: np.ndarray

    @property
    def detail(self) -> np.ndarray:
        return self.image - self.base


def deepdream_octaves(
    model: ZooModel | nn.Module,
    image: torch.Tensor,
    layer: str,
    octaves: int = 4,
    octave_scale: float = 1.4,
    steps: int = 10,
    lr: float = 0.01,
    jitter: int = 16,
    channel: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> list[Octave]:
    """DeepDream (Mordvintsev et al. 2015), keeping every octave.

    For each octave (smallest first, sizes from :func:`octave_sizes`): resize the photo to the
    octave's size, add the detail the previous octaves produced (upsampled), then ``steps`` times:
    shift the image by a random offset in [-jitter, jitter] (circular roll; the gradient comes back
    unshifted), forward up to ``layer`` (the rest of the network is skipped), take the gradient g
    of the objective (:func:`dream_objective`) with respect to the image and step
    ``x <- clip(x + lr * g / mean|g|, 0, 1)`` (gradient normalization: ``lr`` is the mean change
    per pixel and step, in [0, 1] RGB units). The detail is the result minus the resized photo.

    Inputs: ``image`` preprocessed (1, 3, H, W); ``layer`` a layer name; ``channel`` None for the
    whole layer (``layer_l2``) or one channel index of ``layer``.
    Returns: list of ``octaves`` :class:`Octave`; the last one's ``image`` has size (H, W).
    The model is left as it was (no hook, same flags).
    """
    zoo = as_zoo(model)
    rgb = _rgb(zoo, image)
    get_layer(zoo, layer)
    sizes = octave_sizes(tuple(rgb.shape[-2:]), octaves, octave_scale)
    steps = check_int(steps, "steps", low=1)
    lr = check_positive(lr, "lr")
    jitter = check_int(jitter, "jitter", low=0)
    objective = dream_objective(layer, channel)
    shift = optimize.jitter(jitter) if jitter > 0 else None
    results: list[Octave] = []
    detail = torch.zeros_like(_resize(rgb, sizes[0]))
    with seeded(seed, [zoo.device]), record(zoo, [layer]) as rec, stop_after(zoo, layer, rec.activations):
        bar = tqdm(total=steps * len(sizes), disable=not progress, desc=f"deepdream {layer}", leave=False)
        for size in sizes:
            base = _resize(rgb, size)
            x = (base + _resize(detail, size)).clamp(0, 1)
            for _ in range(steps):
                x = _ascent_step(zoo, rec.activations, objective, x, lr, shift)
                bar.update()
            detail = x - base
            results.append(Octave(size=size, base=_to_hwc(base), image=_to_hwc(x)))
        bar.close()
    return results


def _ascent_step(
    zoo: ZooModel,
    acts: dict[str, torch.Tensor],
    objective: Objective,
    x: torch.Tensor,
    lr: float,
    shift: Transform | None,
) -> torch.Tensor:
    """One normalized gradient-ascent step on ``x`` (1, 3, h, w); the forward stops at the layer."""
    x = x.detach().requires_grad_(True)
    acts.clear()
    inp = shift(x) if shift is not None else x
    forward_until_stop(zoo.net, zoo.normalize(inp))
    value = objective({**acts, INPUT: x})
    (g,) = torch.autograd.grad(value, x)
    g = g / (g.abs().mean() + 1e-12)
    return (x.detach() + lr * g).clamp(0, 1)


def deepdream(model: ZooModel | nn.Module, image: torch.Tensor, layer: str, **options: Any) -> np.ndarray:
    """DeepDream (Mordvintsev et al. 2015): the photo with what ``layer`` sees in it amplified.

    ``options``: the keyword arguments of :func:`deepdream_octaves` (``octaves``, ``octave_scale``,
    ``steps``, ``lr``, ``jitter``, ``channel``, ``seed``, ``progress``).
    Inputs: ``image`` preprocessed (1, 3, H, W). Returns: RGB array (H, W, 3) in [0, 1], the last octave.
    """
    return deepdream_octaves(model, image, layer, **options)[-1].image


@torch.no_grad()
def dream_score(
    model: ZooModel | nn.Module, images: np.ndarray | Sequence[np.ndarray], layer: str, channel: int | None = None
) -> torch.Tensor:
    """DeepDream's objective for each image: ``mean(a^2)`` of ``layer`` (or the mean of ``channel``).

    Inputs: RGB images (N, H, W, 3) or one (H, W, 3) in [0, 1]. Returns: (N,) tensor on the CPU.
    """
    zoo = as_zoo(model)
    x = to_input(zoo, images)
    a = run_until(zoo, x, layer)[layer]
    if channel is None:
        return a.pow(2).flatten(1).mean(1).cpu()
    c = check_int(channel, "channel", low=0)
    if c >= a.shape[1]:
        raise ValueError(f"channel {c} out of range: layer {layer!r} has {a.shape[1]} channels")
    return a[:, c].flatten(1).mean(1).cpu()


# --------------------------------------------------------------------------- class transfer


def closeness(reference: torch.Tensor, weight: float = 1.0) -> Objective:
    """Minus the mean squared distance of the image to ``reference`` (1, 3, H, W) RGB in [0, 1],
    times ``weight``: keeps an optimized image near a photo (0 at the photo itself)."""
    if not isinstance(reference, torch.Tensor):
        raise TypeError(f"reference must be an RGB image tensor (1, 3, H, W), got {type(reference).__name__}")
    ref = check_finite(reference.detach(), "reference")
    weight = check_non_negative(weight, "weight")

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        return -weight * (acts[INPUT] - ref.to(acts[INPUT].device)).pow(2).mean()

    return Objective(fn, [], f"closeness {weight:g}")


@dataclass
class TransferResult:
    """What :func:`class_transfer` did. ``image``: (H, W, 3) in [0, 1] after the last step;
    ``snapshots``: step -> image (step 0 = the photo); per step 0..steps (index = step):
    ``target_prob`` / ``source_prob`` the softmax probability (on the untransformed image) of the
    target class / of the photo's own top-1 class ``source``, and ``change`` the mean absolute
    pixel change from the photo."""

    image: np.ndarray
    target: int
    source: int
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)
    target_prob: list[float] = field(default_factory=list)
    source_prob: list[float] = field(default_factory=list)
    change: list[float] = field(default_factory=list)

    @property
    def flip_step(self) -> int | None:
        """The first step at which the target class has probability > 0.5 (None if never)."""
        return next((s for s, p in enumerate(self.target_prob) if p > 0.5), None)


PARAMS = ("fft", "pixel")


def class_transfer(
    model: ZooModel | nn.Module,
    image: torch.Tensor,
    target: int | str,
    steps: int = 40,
    lr: float = 0.03,
    weight: float = 5.0,
    strength: float = 1.0,
    param: str = "fft",
    snapshots: Sequence[int] = (),
    seed: int = 0,
    progress: bool = False,
) -> TransferResult:
    """Turn a photo into an image of another class: Adam maximizing
    ``logit_target(x) - weight * mean((x - photo)^2)``, started at the photo, under transformation
    robustness (:func:`robust_transforms` with ``strength``).

    ``param="fft"`` (default) optimizes the decorrelated Fourier spectrum of the image
    (:class:`~lecture_utils.optimize.FFTImage` set to the photo; square images only): the change
    grows as visible, object-like structure. ``param="pixel"`` optimizes the pixels (sigmoid
    parametrization): the class flips through high-frequency, almost invisible changes.

    Inputs: ``image`` preprocessed (1, 3, H, W); ``target`` a class index or name; ``snapshots``
    steps (1-based) whose images to keep (0 and the last step are always kept).
    Returns: :class:`TransferResult`. The model is left as it was.
    """
    zoo = as_zoo(model)
    photo = _rgb(zoo, image)
    steps = check_int(steps, "steps", low=1)
    lr = check_positive(lr, "lr")
    weight = check_non_negative(weight, "weight")
    param = check_choice(param, "param", PARAMS)
    h, w = photo.shape[-2:]
    if param == "fft" and h != w:
        raise ValueError(f"param='fft' needs a square image, got {h}x{w}: preprocess with a size, or use param='pixel'")
    keep = sorted({check_int(s, "snapshot step", low=1) for s in snapshots} | {steps})
    if keep[-1] > steps:
        raise ValueError(f"snapshot step {keep[-1]} is beyond steps={steps}")
    transforms = robust_transforms(min(h, w), strength)
    result = _start_transfer(zoo, photo, target)
    if param == "fft":
        image_param: nn.Module = FFTImage(h)
        image_param.set_image(photo.cpu())
    else:
        image_param = PixelImage(h, init=photo.cpu())
    res = render(
        zoo,
        class_logit(result.target) + closeness(photo, weight),
        steps=steps,
        lr=lr,
        transforms=transforms,
        param=image_param,
        snapshots=keep,
        seed=seed,
        progress=progress,
        callbacks=[_tracker(zoo, photo, result)],
    )
    result.snapshots.update(res.snapshots)
    result.image = res.image
    return result


def _start_transfer(zoo: ZooModel, photo: torch.Tensor, target: int | str) -> TransferResult:
    """The :class:`TransferResult` at step 0: the photo's class probabilities (RGB ``photo`` (1, 3, H, W))."""
    with preserved_state(zoo), torch.no_grad():
        logits = zoo.net(zoo.normalize(photo))
    if logits.ndim != 2:
        raise ValueError(f"class_transfer needs a classifier with (N, K) output, got shape {tuple(logits.shape)}")
    target = resolve_class(target, zoo.classes, n_classes=logits.shape[1])
    p0 = torch.softmax(logits, 1)[0]
    source = int(p0.argmax())
    result = TransferResult(image=_to_hwc(photo), target=target, source=source, snapshots={0: _to_hwc(photo)})
    result.target_prob.append(float(p0[target]))
    result.source_prob.append(float(p0[source]))
    result.change.append(0.0)
    return result


def _tracker(zoo: ZooModel, photo: torch.Tensor, result: TransferResult) -> optimize.Callback:
    """A :func:`render` callback appending the step's probabilities and pixel change to ``result``."""

    def track(p: nn.Module, step: int) -> None:
        with torch.no_grad():
            img = p()
            prob = torch.softmax(zoo.net(zoo.normalize(img)), 1)[0]
        result.target_prob.append(float(prob[result.target]))
        result.source_prob.append(float(prob[result.source]))
        result.change.append(float((img - photo).abs().mean()))

    return track


# --------------------------------------------------------------------------- class generation


@torch.no_grad()
def probabilities(model: ZooModel | nn.Module, images: np.ndarray | Sequence[np.ndarray]) -> torch.Tensor:
    """Softmax probabilities (N, K) of RGB images (N, H, W, 3) or one (H, W, 3) in [0, 1]."""
    zoo = as_zoo(model)
    x = to_input(zoo, images)
    with preserved_state(zoo):
        logits = zoo.net(x)
    if logits.ndim != 2:
        raise ValueError(f"probabilities needs a classifier with (N, K) output, got shape {tuple(logits.shape)}")
    return torch.softmax(logits, 1).cpu()


def class_images(
    model: ZooModel,
    targets: Sequence[int | str],
    size: int = 128,
    steps: int = 96,
    lr: float = 0.05,
    transforms: Sequence[Transform] | None = None,
    seed: int = 0,
    progress: bool = False,
) -> RenderResult:
    """Generate one image per class from noise (Simonyan et al. 2014 with the recipe of
    Olah et al. 2017): a batch of :class:`~lecture_utils.optimize.FFTImage` (decorrelated Fourier
    parametrization) whose item i maximizes the logit of ``targets[i]``, under transformation
    robustness (default :func:`robust_transforms` for ``size``).

    Inputs: ``targets`` class indices or names. Returns: :class:`~lecture_utils.optimize.RenderResult`
    whose ``batch`` is (len(targets), size, size, 3).
    """
    if not isinstance(model, ZooModel) or model.classes is None:
        raise TypeError("class_images needs a ZooModel classifier (with class names)")
    if isinstance(targets, (str, int)) or not len(targets):
        raise ValueError("targets must be a non-empty list of class indices or names")
    ids = [resolve_class(t, model.classes) for t in targets]
    size = check_int(size, "size", low=8)
    objective = None
    for i, c in enumerate(ids):
        term = class_logit(c, batch=i)
        objective = term if objective is None else objective + term
    param = FFTImage(size, batch=len(ids), seed=seed)
    tf = robust_transforms(size) if transforms is None else list(transforms)
    return render(model, objective, param=param, transforms=tf, steps=steps, lr=lr, seed=seed, progress=progress)
