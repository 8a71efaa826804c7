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
- ``plot``     figures (grids, filters, overlays); compute stays elsewhere
- ``widgets``  layer / class / image pickers for the notebooks
- ``config``   the quick-mode switch (``pick(full=..., quick=...)``)
"""

__version__ = "0.1.0"
