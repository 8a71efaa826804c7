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
- ``smallcnn``, ``deconvnet``, ``backprop``, ``cam``, ``interpretable`` part I methods (lectures 01-06)
- ``inversion``, ``neighbours``, ``activations``, ``occlusion``, ``sanity`` part II (lectures 07-11)
- ``optimize`` the input-optimization engine: param / objectives / transforms / render (07, 12-18)
- ``fullgrad``, ``dictionary`` FullGrad, Integrated Gradients, semantic dictionaries (lecture 13)
- ``dream``    DeepDream (octaves, jitter), class transfer, class generation (lecture 14)
- ``chairs``, ``upconv`` rendered chairs and the up-convolutional generator (lecture 15)
- ``style``, ``texture``, ``doodle``, ``stylize`` Gram matrices, textures, doodles, style transfer (16-18)
- ``fastnet``, ``superres``, ``multistyle`` feed-forward stylization, super-resolution, conditional IN (19-21)
- ``site``     the static HTML edition (``python -m lecture_utils.site``)
- ``homework`` exercises with automatic checks, student versions (``python -m lecture_utils.homework build``)
- ``plot``     figures (grids, filters, overlays); compute stays elsewhere
- ``widgets``  layer / class / image pickers for the notebooks
- ``config``   the quick-mode switch (``pick(full=..., quick=...)``)
"""

__version__ = "0.1.0"
