"""Data for dlzoo: image folders, named datasets (tfds, digits, synthetic), manifests.

    from dlzoo.data import image_folder, load, load_arrays
    train, val, info = image_folder("photos/", image_size=(160, 160))   # bad files skipped, listed
    data = load("digits")                                                # offline, 32x32 grayscale
    arrays = load_arrays("digits")                    # the same DataBundle, train/val as (x, y)

Importing this package does not import TensorFlow; the tf.data functions import it when called.
"""

from dlzoo.data.bundle import DataBundle, DataInfo
from dlzoo.data.datasets import digits_images, export_digits, load, load_arrays, sources
from dlzoo.data.folders import (
    FolderInfo,
    ScanReport,
    image_folder,
    in_validation,
    scan_folder,
)
from dlzoo.data.manifest import array_hash, manifest_hash

__all__ = [
    "DataBundle",
    "DataInfo",
    "FolderInfo",
    "ScanReport",
    "array_hash",
    "digits_images",
    "export_digits",
    "image_folder",
    "in_validation",
    "load",
    "load_arrays",
    "manifest_hash",
    "scan_folder",
    "sources",
]
