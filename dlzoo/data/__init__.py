"""Data for dlzoo: image folders, named datasets (tfds, digits, synthetic), manifests.

    from dlzoo.data import image_folder, load, load_arrays
    train, val, info = image_folder("photos/", image_size=(160, 160))   # bad files skipped, listed
    data = load("digits")                                                # offline, 32x32 grayscale

Importing this package does not import TensorFlow; the tf.data functions import it when called.
"""

from dlzoo.data.datasets import DataBundle, export_digits, load, load_arrays, sources
from dlzoo.data.folders import FolderInfo, ScanReport, image_folder, in_validation, scan_folder
from dlzoo.data.manifest import array_hash, manifest_hash

__all__ = [
    "DataBundle",
    "FolderInfo",
    "ScanReport",
    "array_hash",
    "export_digits",
    "image_folder",
    "in_validation",
    "load",
    "load_arrays",
    "manifest_hash",
    "scan_folder",
    "sources",
]
