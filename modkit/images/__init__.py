"""Image inputs: multimodal inputs (text and ``image_url`` parts) and the helpers that
build them from files and folders.

:func:`image_part` and :func:`multimodal_input` build one input, :func:`images_in_folder`
and :func:`with_images` a whole table of them; :data:`IMAGE_CATEGORIES` are the API keys
the endpoint scores on images, and :func:`applied_input_types` reads which input types
a result's categories were scored on.
"""

from .._images import (
    IMAGE_CATEGORIES,
    applied_input_types,
    image_part,
    images_in_folder,
    multimodal_input,
    with_images,
)

__all__ = [
    "IMAGE_CATEGORIES",
    "applied_input_types",
    "image_part",
    "images_in_folder",
    "multimodal_input",
    "with_images",
]
