"""Classify the frames of a video file or a camera stream with a saved image model
(`dlzoo predict MODEL --video FILE`, `--camera N`).

    >>> from dlzoo.video import predict_video
    >>> result = predict_video("saved_models/lenet5-digits", "clip.mp4")
    >>> result.frames, result.video, result.csv     # clip.annotated.mp4, clip.predictions.csv

Frames come from OpenCV (`pip install opencv-python-headless`, or `opencv-python` for a window)
as BGR uint8. Each is made the model's input exactly as `dlzoo predict` makes an image file's
(`dlzoo.evaluation.read_images`, Pillow's route): BGR -> RGB, Pillow's conversion to the
model's colour mode (grayscale luma, RGB or RGBA), then `dlzoo.data.images.resize_array`, the
one resize of every image dlzoo reads; the model's own first layer does its preprocessing. A
frame written out as a PNG and given to `dlzoo predict` gets the same probabilities.

Outputs are written beside their final name and renamed into place when complete, so an error
or Ctrl-C in the middle of a video leaves no half-written file (a camera recording stopped by
Ctrl-C or `q` is complete up to then, and is kept).
"""

from __future__ import annotations

import csv
import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np

from dlzoo.data.images import _pil_to_array, resize_array
from dlzoo.evaluation import top_k
from dlzoo.saving import load, read_card
from dlzoo.tasks import Task

__all__ = ["VideoPredictions", "frame_to_input", "predict_camera", "predict_video",
           "require_opencv"]

OPENCV_INSTALL = 'pip install opencv-python-headless (or pip install "dlzoo[video]")'
# Containers the writer is known to produce with OpenCV's wheels, and the codec for each.
_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
_BATCH = 32  # frames classified per call: bounded memory for a video of any length


def require_opencv(what: str = "predict --video"):
    """`cv2`, quiet about its own probes; ImportError naming what to install when absent."""
    try:
        import cv2
    except ImportError:
        raise ImportError(f"{what} reads video with OpenCV, which is not installed: "
                          f"{OPENCV_INSTALL}") from None
    # OpenCV's own WARN lines (a camera index it cannot open, its backend probes) would bury
    # the one line that says what is wrong.
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:  # an OpenCV without its logging module: its lines stay
        pass
    return cv2


def frame_to_input(frame_bgr: np.ndarray, input_shape) -> np.ndarray:
    """One OpenCV frame -> the model's raw input, as `dlzoo predict` makes an image file's.

    Args:
        frame_bgr: uint8 `(H, W, 3)` BGR (OpenCV's order), `(H, W, 4)` BGRA or `(H, W)` gray.
        input_shape: the model's `(height, width, channels)`, channels 1, 3 or 4.

    Returns:
        uint8 `(height, width, channels)`: converted to the model's colour mode by Pillow
        (grayscale is Pillow's luma of R, G, B), then resized by `resize_array` (Pillow's
        antialiased bilinear), the steps an image file goes through.
    """
    from PIL import Image

    # the conversion and resize of dlzoo's Pillow decoder (`pil_decode_sized`), on a decoded
    # frame instead of a file's bytes
    h, w, c = (int(s) for s in input_shape)
    frame = np.asarray(frame_bgr, np.uint8)
    if frame.ndim == 2:
        img = Image.fromarray(frame, "L")
    elif frame.shape[-1] == 4:
        img = Image.fromarray(np.ascontiguousarray(frame[..., [2, 1, 0, 3]]), "RGBA")
    else:
        img = Image.fromarray(np.ascontiguousarray(frame[..., ::-1]), "RGB")
    return resize_array(_pil_to_array(img, c), (h, w))


@dataclasses.dataclass
class VideoPredictions:
    """What `predict_video` / `predict_camera` did.

    Attributes:
        frames: frames classified (the rows of the CSV, the frames of the annotated video).
        video: the annotated video written, or None.
        csv: the per-frame CSV written, or None.
        fps: the frame rate of the source (frames per second; 0 when OpenCV does not know it).
        seconds: wall-clock seconds spent, reading to writing.
        stopped: "end" (the stream ended or `max_frames` was reached), "key" (q or Esc in the
            window) or "interrupt" (Ctrl-C; the files are complete up to then).
    """

    frames: int
    video: Path | None
    csv: Path | None
    fps: float
    seconds: float
    stopped: str = "end"


class _Classifier:
    """The saved model and what its card says: frames in, top-k rows out."""

    def __init__(self, model_dir):
        card = read_card(model_dir)
        shape = card.get("input_shape") or []
        if card.get("task", Task.IMAGE_CLASSIFICATION) is not Task.IMAGE_CLASSIFICATION \
                or len(shape) != 3 or shape[2] not in (1, 3, 4) or not card.get("class_names"):
            raise ValueError(f"{model_dir}: --video and --camera take an image classifier (input "
                             f"height, width, 1/3/4 channels, class names); this model is "
                             f"{card.get('task')} with input {shape}")
        self.input_shape = tuple(int(s) for s in shape)
        self.class_names = [str(c) for c in card["class_names"]]
        self.model = load(model_dir, compile=False)

    def top(self, frames, k: int):
        batch = np.stack([frame_to_input(f, self.input_shape) for f in frames]).astype("float32")
        return top_k(self.model.predict_on_batch(batch), self.class_names, k=k)


def _overlay(cv2, frame, text: str) -> np.ndarray:
    """`frame` with `text` on a dark band at its top left, sized to the frame."""
    h = frame.shape[0]
    scale = max(0.3, h / 480.0 * 0.8)
    thick = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    out = frame.copy()
    pad = max(2, th // 3)
    cv2.rectangle(out, (0, 0), (tw + 2 * pad, th + base + 2 * pad), (0, 0, 0), -1)
    cv2.putText(out, text, (pad, pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                thick, cv2.LINE_AA)
    return out


def _label(top) -> str:
    name, p = top[0]
    return f"{name} {p:.2f}"


class _Sinks:
    """The annotated video and the CSV, written under temporary names and renamed into place by
    `close(keep=True)`; `close(keep=False)` removes them."""

    def __init__(self, cv2, video, csv_path, fps: float, size, k: int):
        self.cv2, self.final, self.writer, self.table, self.file = cv2, [], None, None, None
        if video is not None:
            video = Path(video)
            fourcc = _FOURCC[video.suffix.lower()]  # checked by _check_out
            part = video.with_name(f".{video.stem}.partial{video.suffix}")
            self.writer = cv2.VideoWriter(os.fspath(part), cv2.VideoWriter_fourcc(*fourcc),
                                          fps or 30.0, size)
            if not self.writer.isOpened():
                raise OSError(f"--out {video}: OpenCV cannot write a {video.suffix} video there "
                              "(check the folder exists and is writable, or try .avi)")
            self.final.append((part, video))
        if csv_path is not None:
            csv_path = Path(csv_path)
            part = csv_path.with_name(f".{csv_path.name}.partial")
            self.file = open(part, "w", newline="", encoding="utf-8")
            self.table = csv.writer(self.file)
            self.table.writerow(["frame", "seconds"] + [f"{col}_{i}" for i in range(1, k + 1)
                                                        for col in ("class", "probability")])
            self.final.append((part, csv_path))

    def write(self, index: int, seconds: float, frame, top, extra: str = "") -> None:
        if self.writer is not None:
            self.writer.write(_overlay(self.cv2, frame, _label(top) + extra))
        if self.table is not None:
            self.table.writerow([index, f"{seconds:.3f}"]
                                + [v for name, p in top for v in (name, f"{p:.6f}")])

    def close(self, keep: bool) -> None:
        if self.writer is not None:
            self.writer.release()
        if self.file is not None:
            self.file.close()
        for part, final in self.final:
            if keep:
                os.replace(part, final)
            else:
                part.unlink(missing_ok=True)


def _check_out(path, flag: str, *others, video: bool = False) -> Path:
    """`path` as an output: its folder exists, it is none of `others`, a video's suffix is one
    OpenCV writes."""
    path = Path(path)
    if video and path.suffix.lower() not in _FOURCC:
        raise ValueError(f"{flag} {path}: write the annotated video as one of "
                         f"{', '.join(_FOURCC)}; received {path.suffix or 'no suffix'!r}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{flag} {path}: the folder {path.parent} does not exist; "
                                "create it or write elsewhere")
    for other in others:
        if other is not None and os.path.abspath(other) == os.path.abspath(path):
            raise ValueError(f"{flag} {path}: would overwrite {other}; give another name")
    return path


def predict_video(model_dir, video, *, out=None, csv_path=None, k: int = 3,
                  max_frames: int | None = None) -> VideoPredictions:
    """Classifies every frame of `video`; writes an annotated copy and a per-frame CSV.

    Args:
        model_dir: a dlzoo saved image classifier (`saved_models/NAME`).
        video: a video file OpenCV reads (mp4, avi, mov, mkv, webm ...).
        out: the annotated copy (default `VIDEO_STEM.annotated.mp4` beside the video; .mp4,
            .m4v, .mov, .avi or .mkv): the same size and frame rate, the top-1 class and its
            probability drawn at the top left of each frame.
        csv_path: the CSV (default `VIDEO_STEM.predictions.csv` beside the video): one row per
            frame, `frame,seconds,class_1,probability_1,...,class_k,probability_k`, seconds
            the frame's presentation time.
        k: classes per row (default 3).
        max_frames: stop after this many frames (default: all).

    Returns:
        `VideoPredictions`.

    Raises:
        ImportError: OpenCV is missing (the message says what to install).
        FileNotFoundError: `video` does not exist, or an output's folder does not.
        ValueError: OpenCV cannot read `video`, it has no frame, the model is not an image
            classifier, or an output would overwrite the video.
    """
    cv2 = require_opencv()
    video = Path(video)
    if not video.is_file():
        raise FileNotFoundError(f"--video {video}: no such file")
    out = _check_out(out if out is not None else video.with_name(f"{video.stem}.annotated.mp4"),
                     "--out", video, video=True)
    csv_path = _check_out(csv_path if csv_path is not None
                          else video.with_name(f"{video.stem}.predictions.csv"), "--csv", video,
                          out)
    source = cv2.VideoCapture(os.fspath(video))
    try:
        ok, first = source.read() if source.isOpened() else (False, None)
        if not ok:
            raise ValueError(f"--video {video}: OpenCV cannot read a frame of it (not a video, "
                             "damaged, or a codec this OpenCV lacks); convert it to .mp4 (H.264)")
        classify = _Classifier(model_dir)
        fps = float(source.get(cv2.CAP_PROP_FPS) or 0.0)
        size = (first.shape[1], first.shape[0])
        sinks = _Sinks(cv2, out, csv_path, fps, size, k)
        return _run(cv2, source, first, classify, sinks, k=k, fps=fps, max_frames=max_frames,
                    outputs=(out, csv_path))
    finally:
        source.release()


def _timestamp(cv2, source, index: int, fps: float) -> float:
    """The frame just read's presentation time in seconds (OpenCV's; index / fps where the
    backend gives none)."""
    ms = source.get(cv2.CAP_PROP_POS_MSEC)
    if ms and ms > 0 or index == 0:
        return float(ms or 0.0) / 1000.0
    return index / fps if fps > 0 else 0.0


def _run(cv2, source, first, classify, sinks, *, k, fps, max_frames, outputs, show=None,
         live=False):
    """Reads, classifies and writes until the stream ends (or `max_frames`, or q/Esc in the
    window, or Ctrl-C); the files are renamed into place only when complete (a live stream's
    also at Ctrl-C: it is complete up to then)."""
    start = last = time.monotonic()

    def stamp(index: int) -> float:  # a file's presentation time; a live stream's clock
        return time.monotonic() - start if live else _timestamp(cv2, source, index, fps)

    index, stopped, keep, rate = 0, "end", False, 0.0
    pending = [(first, stamp(0))]
    try:
        while pending:
            if not live:  # a file: classify a batch at once
                while len(pending) < _BATCH:
                    ok, frame = source.read()
                    if not ok:
                        break
                    pending.append((frame, stamp(index + len(pending))))
            if max_frames is not None:
                pending = pending[:max(0, max_frames - index)]
            tops = classify.top([f for f, _ in pending], k)
            for (frame, seconds), top in zip(pending, tops):
                extra = ""
                if live:  # frames per second shown, smoothed over about ten frames
                    now = time.monotonic()
                    step = 1.0 / max(now - last, 1e-6)
                    rate, last = (step if rate == 0 else 0.9 * rate + 0.1 * step), now
                    extra = f" | {rate:.1f} fps"
                sinks.write(index, seconds, frame, top, extra)
                if show is not None and show(_overlay(cv2, frame, _label(top) + extra)):
                    stopped = "key"
                index += 1
            pending = []
            if stopped == "key" or (max_frames is not None and index >= max_frames):
                break
            ok, frame = source.read()
            if ok:
                pending = [(frame, stamp(index))]
        keep = True
    except KeyboardInterrupt:
        stopped, keep = "interrupt", live
        raise
    finally:
        sinks.close(keep=keep)
        if stopped == "interrupt" and keep:
            _say_written(outputs, index)
    return VideoPredictions(frames=index, video=outputs[0], csv=outputs[1], fps=fps,
                            seconds=time.monotonic() - start, stopped=stopped)


def _say_written(outputs, frames: int) -> None:
    written = [str(p) for p in outputs if p is not None]
    if written:
        print(f"wrote {' and '.join(written)} ({frames} frames)", file=sys.stderr)


def display_problem(cv2) -> str | None:
    """Why OpenCV cannot open a window here, or None when it can."""
    gui = [line.split(":", 1)[1].strip() for line in cv2.getBuildInformation().splitlines()
           if line.strip().startswith("GUI:")]
    if gui and gui[0].upper() == "NONE":
        return ("this OpenCV has no window support (opencv-python-headless); pip uninstall "
                "opencv-python-headless && pip install opencv-python for a window")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return "there is no display ($DISPLAY is not set)"
    return None


def open_camera(cv2, index: int):
    """`cv2.VideoCapture(index)` with a first frame read; ValueError in one line when it
    cannot be opened or gives no frame."""
    camera = cv2.VideoCapture(int(index))
    ok, frame = camera.read() if camera.isOpened() else (False, None)
    if not ok:
        camera.release()
        where = f" (/dev/video{index})" if sys.platform.startswith("linux") else ""
        raise ValueError(f"--camera {index}: camera {index}{where} cannot be opened (no such "
                         "camera, in use by another program, or no permission); list the "
                         "cameras (ls /dev/video* on Linux) and give another index")
    return camera, frame


def predict_camera(model_dir, index: int = 0, *, out=None, csv_path=None, k: int = 3,
                   max_frames: int | None = None) -> VideoPredictions:
    """Classifies a camera's stream live: a window with the top-1 class, its probability and
    the frames per second, until q or Esc (or Ctrl-C, or `max_frames`); with `out`, the
    annotated stream is written to that video file instead of shown.

    Args:
        model_dir: a dlzoo saved image classifier.
        index: the camera (OpenCV's index; 0 is the first, /dev/video0 on Linux).
        out: write the annotated stream here (.mp4, .m4v, .mov, .avi or .mkv) instead of
            showing it; needs no display.
        csv_path: also write one row per frame (seconds since the start), as `predict_video`.
        k: classes per CSV row (default 3).
        max_frames: stop after this many frames.

    Raises:
        ImportError: OpenCV is missing.
        ValueError: no `out` and no display (or a headless OpenCV), or the camera cannot be
            opened; each in one line that says what to do.
    """
    cv2 = require_opencv("predict --camera")
    if out is None:
        problem = display_problem(cv2)
        if problem:
            raise ValueError(f"--camera {index}: cannot show the stream: {problem}; or pass "
                             "--out FILE.mp4 to write the annotated stream instead")
    else:
        out = _check_out(out, "--out", video=True)
    if csv_path is not None:
        csv_path = _check_out(csv_path, "--csv", out)
    camera, first = open_camera(cv2, index)
    try:
        classify = _Classifier(model_dir)
        fps = float(camera.get(cv2.CAP_PROP_FPS) or 0.0)
        sinks = _Sinks(cv2, out, csv_path, fps or 30.0, (first.shape[1], first.shape[0]), k)
        show = None
        if out is None:
            title = f"dlzoo: {Path(model_dir).name} (q or Esc to stop)"

            def show(image) -> bool:
                cv2.imshow(title, image)
                return cv2.waitKey(1) & 0xFF in (ord("q"), 27)
        try:
            return _run(cv2, camera, first, classify, sinks, k=k, fps=fps, max_frames=max_frames,
                        outputs=(out, csv_path), show=show, live=True)
        finally:
            if show is not None:
                cv2.destroyAllWindows()
    finally:
        camera.release()
