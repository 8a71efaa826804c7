"""Figures for the course. Every function takes arrays/tensors and returns a matplotlib Figure
(or draws on a given axes); nothing here computes a method.

Layout of the package
---------------------
- :mod:`.core` -- conversion with an explicit layout (:func:`to_array`: a tensor in PyTorch's
  (1, C, H, W) / (C, H, W) layout is permuted once, an (H, W, C) array never), the check against
  blank panels, and ONE layout of image panels (:class:`Panel`, :func:`panel_table`).
- :mod:`.images` -- the grids and tables of images every notebook uses (thin wrappers over the core).
- :mod:`.curves` -- ONE curve plotter (:func:`line_panel`) and the loss / objective / spectrum plots.
- :mod:`.matrices` -- ONE annotated matrix (:func:`annotated_matrix`) and its figures.
- :mod:`.part1_weights_and_attribution` -- filters, projections, CAMs, occlusion, dictionaries
  (notebooks 00-06, 10, 13).
- :mod:`.part2_units_and_features` -- activations, neighbours, feature visualization (07-09, 12).
- :mod:`.part3_synthesis` -- style transfer, fast stylization, super-resolution (18-21).

Images are (H, W, 3) floats in [0, 1] (or uint8), or (H, W) maps; tensors are accepted and moved
to the CPU. Filters of a network that takes BGR input (VGG19 here) are drawn in RGB with
``filter_grid(w, channel_order="bgr")``.

Blank panels: a panel with nothing to see (constant to within one 8-bit grey level) raises
``ValueError`` -- "panel 'x' is constant (all 0.5): nothing to see; pass allow_blank=True if this
is meant". Every image-drawing function takes ``allow_blank``: ``True`` for the whole figure, or a
collection of panel names (titles, "row label/column title", or row labels).
"""

from __future__ import annotations

from .core import (
    Panel,
    check_not_blank,
    compact,
    draw_panel,
    grid_axes,
    kernel_panel,
    kernels_rgb,
    normalize01,
    panel_table,
    signed_rgb,
    signed_rgb_shared,
    to_array,
    upsample_map,
)
from .curves import (
    curves,
    grouped_bars,
    ig_path,
    inversion_errors,
    line_panel,
    loss_terms,
    objective_curves,
    sparsity_plot,
    sr_spectra,
    sr_training_curves,
    step_curves,
    topk_bar,
    training_curves,
)
from .images import (
    attribution_rows,
    captioned_rows,
    compare,
    compare_wide,
    image_rows,
    image_table,
    map_rows,
    marked_image_rows,
    overlay,
    panel_rows,
    show_images,
)
from .matrices import annotated_matrix, distance_matrix, gram_heatmaps, labelled_matrix, rule_tables
from .part1_weights_and_attribution import (
    dictionary_entries,
    filter_evolution,
    filter_grid,
    icon_canvas,
    occlusion_figure,
    occlusion_maps,
    patches_and_projections,
    semantic_grid,
    signed_maps,
)
from .part2_units_and_features import (
    activation_layers,
    activation_mosaic,
    activation_mosaic_array,
    embedding_scatter,
    feature_vis_rows,
    neighbour_rows,
    patch_rows,
    thumbnail_map,
    unit_view,
)
from .part3_synthesis import perceptual_loss_diagram, sr_zoom_comparison, stylized_gallery

__all__ = [
    "Panel",
    "activation_layers",
    "activation_mosaic",
    # part 2
    "activation_mosaic_array",
    # matrices
    "annotated_matrix",
    "attribution_rows",
    "captioned_rows",
    "check_not_blank",
    "compact",
    "compare",
    "compare_wide",
    "curves",
    "dictionary_entries",
    "distance_matrix",
    "draw_panel",
    "embedding_scatter",
    "feature_vis_rows",
    "filter_evolution",
    # part 1
    "filter_grid",
    "gram_heatmaps",
    "grid_axes",
    "grouped_bars",
    "icon_canvas",
    "ig_path",
    "image_rows",
    "image_table",
    "inversion_errors",
    "kernels_rgb",
    "kernel_panel",
    "labelled_matrix",
    # curves
    "line_panel",
    "loss_terms",
    "map_rows",
    "marked_image_rows",
    "neighbour_rows",
    "normalize01",
    "objective_curves",
    "occlusion_figure",
    "occlusion_maps",
    "overlay",
    "panel_rows",
    "panel_table",
    "patch_rows",
    "patches_and_projections",
    "perceptual_loss_diagram",
    "rule_tables",
    "semantic_grid",
    # images
    "show_images",
    "signed_maps",
    "signed_rgb",
    "signed_rgb_shared",
    "sparsity_plot",
    "sr_spectra",
    "sr_training_curves",
    # part 3
    "sr_zoom_comparison",
    "step_curves",
    "stylized_gallery",
    "thumbnail_map",
    # core
    "to_array",
    "topk_bar",
    "training_curves",
    "unit_view",
    "upsample_map",
]
