"""Quantised exports of the shipped lenet5-digits: size and accuracy on the held-out digits.

`dlzoo export saved_models/lenet5-digits --format F --quantize Q` for LiteRT float16 and int8
and ONNX int8; each export measures its artifact (in its own runtime: ai-edge-litert's
interpreter, onnxruntime) against the float Keras model on the 332 digits of the card's
validation split (`dlzoo.quantization.measure`, the figures its USAGE.md gives). Needs
TensorFlow and the export extra (`pip install "dlzoo[tf,export]"`).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from benchmarks._common import HERE, load_average

MODEL = HERE.parent / "saved_models" / "lenet5-digits"
CASES = [("litert", "float16"), ("litert", "int8"), ("onnx", "int8")]


def run(quick: bool = False) -> dict:
    from dlzoo.export import export
    from dlzoo.quantization import REPORT_FILE

    before = load_average()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, quantize in CASES:
            path = export(MODEL, fmt, Path(tmp) / f"{fmt}-{quantize}", quantize=quantize)
            r = json.loads((path.parent / REPORT_FILE).read_text())
            rows.append({
                "format": fmt, "quantize": quantize,
                "size KB": round(r["bytes"] / 1e3, 1),
                "float32 size KB": round(r["float_bytes"] / 1e3, 1),
                "size ratio": r["size_ratio"],
                "float accuracy": r["float_accuracy"],
                "quantized accuracy": r["quantized_accuracy"],
                "accuracy change": r["accuracy_change"],
                "top-1 agreement": r["top1_agreement"],
                "max probability change": r["max_probability_change"],
                "held-out images": r["samples"],
                "calibration": r["representative"] or "-",
            })
    changes = ", ".join(f"{r['format']} {r['quantize']} {r['size ratio']:.2f}x the float32 "
                        f"size, accuracy {r['accuracy change']:+.4f}" for r in rows)
    summary = (
        f"lenet5-digits on its {rows[0]['held-out images']} held-out digits (float model "
        f"{rows[0]['float accuracy']:.4f}): {changes}. Load average {' '.join(before)} before, "
        f"{' '.join(load_average())} after."
    )
    return {"title": "Quantised export: size and held-out accuracy (lenet5-digits)",
            "summary": summary, "rows": rows}
