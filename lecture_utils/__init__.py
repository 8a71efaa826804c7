"""lecture_utils: the shared code of the course "Seeing inside CNNs".

Importing the package is cheap and does nothing else: no model is loaded, nothing is downloaded.
Submodules:

- ``models``   offline model zoo (EfficientNet-Lite0, VGG19), ``load_model(name)``
- ``images``   ``load_image`` with sample names, robust conversion to RGB
- ``datasets`` the Fashion-MNIST subset and image-crop pools shipped in ``data/``
- ``hooks``    context managers recording activations/gradients, state hygiene
- ``targets``  class targets by index or name
- ``attribution`` gradient of a class score w.r.t. the input (and later methods)
- ``adversarial`` fast gradient sign method
- ``smallcnn``, ``deconvnet``, ``backprop``, ``cam``, ``interpretable`` part I methods (lectures 01-06);
  ``firstlayer`` the shipped 11x11 first layer and the filter measurements of 01
- ``inversion``, ``neighbours``, ``activations``, ``occlusion``, ``sanity`` part II (lectures 07-11)
- ``optimize`` the input-optimization engine: param / objectives / transforms / render (07, 12-18)
- ``fullgrad``, ``dictionary`` FullGrad, Integrated Gradients, semantic dictionaries (lecture 13)
- ``dream``    DeepDream (octaves, jitter), class transfer, class generation (lecture 14)
- ``chairs``, ``upconv`` rendered chairs and the up-convolutional generator (lecture 15)
- ``style``, ``texture``, ``doodle``, ``stylize`` Gram matrices, textures, doodles, style transfer (16-18)
- ``fastnet``, ``superres``, ``multistyle`` feed-forward stylization, super-resolution, conditional IN (19-21)
- ``homework`` exercises with automatic checks (the student-version build and the static site live in ``tools/``)
- ``plot``     figures (grids, filters, overlays); compute stays elsewhere
- ``widgets``  layer / class / image pickers for the notebooks
- ``config``   the quick-mode switch (``pick(full=..., quick=...)``)
- ``checks``   argument checks with one policy (below), ``device_of``

Conventions
-----------
**Arguments.** A wrong *type* raises ``TypeError``, a wrong *value* (range, choice, shape, NaN/inf)
``ValueError``; every message names the argument, what it got, what it expects and, where it
helps, what to do (:mod:`lecture_utils.checks`). Every method checks its inputs before it
registers a hook or runs a pass, and leaves the model as it found it (no hook, flag, replaced
``forward`` or ``.grad``), also when it raises; calls on one model from several threads run one
after the other (:func:`lecture_utils.hooks.model_lock`).

**Images.** Methods take *preprocessed* input, ``zoo.preprocess(img)``: a float tensor
(1, 3, H, W) or a batch (N, 3, H, W), N >= 1, at least 8 x 8, finite, and -- for a ``ZooModel`` --
inside the model's input range (raw 0-255 pixels are refused: "did you forget zoo.preprocess?").
``preprocess`` itself takes PIL images, (H, W, 3) arrays and (3, H, W) / (N, 3, H, W) tensors by
one rule: uint8 is 0-255, float is [0, 1]. A float64 / float16 image is converted to the model's
dtype (float32), so results come back in float32.

**What ``layer`` names**, per method family:

- a *weighted* layer whose activations are combined: ``grad_cam`` / ``guided_grad_cam`` /
  ``grad_cam_weights`` (the conv layer Grad-CAM weights), ``cam`` / ``cam_maps`` (the last conv
  features, with ``fc`` the linear classifier after global average pooling);
- the layer of a *unit* or channel (with ``channel``): ``guided_backprop`` / ``deconvnet_backprop`` /
  ``backprop_gradient`` (the unit is the channel's maximum over space, its value for a vector
  output such as the classifier), ``occlusion_sweep`` (the channel's sum over space),
  ``deconvnet_projection`` (one activation of the channel, its strongest by default),
  ``activations.top_patches`` (the channel's maximum per crop), ``optimize`` objectives
  (``channel``: its mean, ``neuron``: one position), ``dream`` (the whole layer's ``mean(a^2)``,
  or one channel's mean);
- a layer to *record*, *embed* or *invert*: ``hooks.record`` / ``run_until``,
  ``activations.feature_maps`` / ``pool_maxima`` (``layers``: several), ``features.embed`` /
  ``layer_means`` / ``neighbours.module_embed`` (the spatial mean of its output per image),
  ``dictionary.semantic_dictionary`` (its activation vectors), ``inversion.invert`` (the code to
  match);
- the layers of a *loss* on VGG19 features: ``content_layer`` compares the features themselves,
  ``style_layers`` / ``layers`` their Gram matrices (``style``, ``stylize``, ``texture`` -- there
  also another ``statistic`` --, ``doodle``, ``fastnet``, ``losses.PerceptualLoss``);
  ``superres.FeatureLoss``'s ``layer`` the features compared.

No ``layer`` at all: ``saliency`` / ``input_gradient`` / ``smooth_grad``, ``occlusion``,
``fullgrad`` (every layer's biases) and ``integrated_gradients`` work on the input and the logits.

**Batch axis.** A map keeps the batch axis when the input is a batch of N > 1 images *or* the
targets are given per image (a list, tuple or 1-D tensor); one image with one target gives the map
without it, (h, w) (:func:`lecture_utils.targets.batched_output`). Gradients with respect to the
input (``input_gradient``, ``smooth_grad``, the ReLU rules, IG, Guided Grad-CAM) always keep it:
(N, 3, H, W), like the input. Functions of one image (1, 3, H, W) say what they return:
``deconvnet_projection`` keeps the axis, (1, 3, H, W); ``feature_maps`` drops it, {layer: (C, h, w)}.

**Device.** Maps and gradients come back on the model's device (``occlusion`` too). Small
summaries -- ``OcclusionSweep``, ``IGPath``, ``path_scores``, ``pixel_perturbation``,
``deletion_curve`` -- and recorded activations (``feature_maps``, ``pool_maxima``,
``layer_means``, ``SemanticDictionary``) are CPU tensors; embeddings (``features.embed``,
``neighbours.module_embed``) and what is meant for plotting directly (``deprocess``, ``render``,
``deepdream``) are NumPy. Training functions return the network on their ``device`` (default
CUDA when present; ``smallcnn.train`` trains the net where it is); the zoo's ``load_model`` loads to
``device`` (default CUDA when present), the course's own weight loaders (``load_fashion_cnn``,
``load_stylizer``, ``load_sr``, ...) to ``device`` (default CPU).

**Random numbers.** A function that draws random numbers takes ``seed`` (SmoothGrad's noise,
the randomization cascade, ``random_map``, ``crop_pool``) and draws from a private generator: the
global torch, NumPy and Python random states are left as found.
"""

__version__ = "0.1.0"
