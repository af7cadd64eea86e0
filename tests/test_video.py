"""`dlzoo predict MODEL --video FILE` and `--camera N`, run as a user runs them: a video the test
writes with OpenCV, classified frame by frame; the rows, the annotated copy and the frames given
to `dlzoo predict` as image files agree."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2", reason="pip install opencv-python-headless (dlzoo[video])")

from dlzoo.evaluation import predict_files  # noqa: E402 (after the OpenCV check)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "saved_models" / "lenet5-digits"  # grayscale 32x32: colour frames are converted
FRAMES, FPS, SIZE = 7, 5.0, (80, 64)  # (width, height), not the model's size


def _dlzoo(*args, **env):
    """`python -m dlzoo ARGS` in a subprocess, with the environment the CLI really has."""
    full = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    full.update({"PYTHONPATH": str(ROOT), **env})
    return subprocess.run([sys.executable, "-m", "dlzoo", *map(str, args)], capture_output=True,
                          text=True, env=full, timeout=300, check=False)


def _write_video(path):
    """FRAMES frames of digits 0, 1, 2 ... in magenta-ish colour (R != B, so a BGR/RGB mix-up
    changes the grayscale the model sees), off-centre on a wider frame."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    assert writer.isOpened()
    for i in range(FRAMES):
        digit = (digits.images[i] * 15).astype(np.uint8)
        big = cv2.resize(digit, (SIZE[1], SIZE[1]), interpolation=cv2.INTER_NEAREST)
        frame = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
        frame[:, 10:10 + SIZE[1]] = np.stack([big, big // 3, big // 2 + 60], -1)  # B, G, R
        writer.write(frame)
    writer.release()


def _frames(path):
    capture = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        out.append(frame)
    capture.release()
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One `predict --video` of the written video, and one `predict --json` of its frames
    (as OpenCV decodes them) saved as PNG files."""
    root = tmp_path_factory.mktemp("video")
    video = root / "clip.avi"
    _write_video(video)
    done = _dlzoo("predict", SHIPPED, "--video", video, "--top-k", 3)
    assert done.returncode == 0, done.stderr
    (root / "frames").mkdir()
    for i, frame in enumerate(_frames(video)):  # PNG: lossless, the decoded pixels exactly
        cv2.imwrite(str(root / "frames" / f"{i:03d}.png"), frame)
    # what `dlzoo predict FILES` computes, in this process (one CLI start less to pay for)
    files = predict_files(SHIPPED, [root / "frames"], k=3)
    assert not files.skipped
    with open(root / "clip.predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {"root": root, "video": video, "stdout": done.stdout, "rows": rows,
            "files": files.rows}


def test_a_video_of_n_frames_gives_n_rows_and_an_annotated_copy_of_n_frames(run):
    root, rows = run["root"], run["rows"]
    annotated = root / "clip.annotated.mp4"
    assert f"classified {FRAMES} frame(s)" in run["stdout"] and str(annotated) in run["stdout"]
    assert len(rows) == FRAMES
    assert [int(r["frame"]) for r in rows] == list(range(FRAMES))
    assert [float(r["seconds"]) for r in rows] == pytest.approx(
        [i / FPS for i in range(FRAMES)], abs=1e-3)
    for r in rows:  # top-3, most likely first
        probs = [float(r[f"probability_{i}"]) for i in (1, 2, 3)]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-5
    source, written = _frames(run["video"]), _frames(annotated)
    assert len(written) == FRAMES and written[0].shape == source[0].shape
    # the label is drawn at the top left; the rest of the frame is the video's
    corner = (slice(0, SIZE[1] // 4), slice(0, SIZE[0] // 2))
    for a, b in zip(source, written):
        assert np.abs(a[corner].astype(int) - b[corner]).mean() > 10
    assert not list(root.glob(".*partial*"))  # nothing half-written left


def test_each_frame_predicts_as_the_same_frame_given_as_an_image_file(run):
    rows, files = run["rows"], run["files"]
    assert len(files) == FRAMES
    for row, (path, top) in zip(rows, files):
        assert row["class_1"] == top[0][0], path
        for i, (name, probability) in enumerate(top, 1):
            assert row[f"class_{i}"] == name
            assert float(row[f"probability_{i}"]) == pytest.approx(probability, abs=1e-4)
    # the digits the frames show, so the comparison is between different labels
    assert len({r["class_1"] for r in rows}) >= FRAMES - 1


def test_camera_without_a_display_or_that_cannot_be_opened_is_one_line(tmp_path):
    env = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}
    shown = _dlzoo("predict", SHIPPED, "--camera", 63, **env)
    assert shown.returncode == 2
    line = shown.stderr.strip()
    assert line.count("\n") == 0 and "--camera 63: cannot show the stream" in line
    assert "--out" in line  # what to do instead
    out = tmp_path / "stream.mp4"
    missing = _dlzoo("predict", SHIPPED, "--camera", 63, "--out", out, **env)
    assert missing.returncode == 2
    line = missing.stderr.strip()
    assert line.count("\n") == 0 and "camera 63" in line and "cannot be opened" in line
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_video_flags_are_checked_before_anything_is_read(tmp_path):
    clip = tmp_path / "clip.avi"
    cases = [
        (["--video", tmp_path / "none.mp4"], "no such file"),
        (["--video", clip, "--camera", "0"], "contradict"),
        (["--out", tmp_path / "a.mp4"], "only applies with --video or --camera"),
        (["--video", clip, "--out", tmp_path / "a.webm"], "one of .mp4"),
        (["--video", clip, "--out", clip], "would overwrite"),
        (["--video", clip, "--json"], "--json does not apply"),
    ]
    clip.write_bytes(b"not a video")
    for args, expected in cases:
        done = _dlzoo("predict", SHIPPED, *args)
        assert done.returncode == 2 and expected in done.stderr, (args, done.stderr)
        assert done.stderr.strip().count("\n") == 0
    done = _dlzoo("predict", SHIPPED, "--video", clip)
    assert done.returncode == 2 and "OpenCV cannot read a frame" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.avi"]


def _interrupt_at(monkeypatch, frame_index):
    """Ctrl-C (KeyboardInterrupt) as the frame `frame_index` is about to be written."""
    from dlzoo import video

    write = video._Sinks.write

    def interrupted(self, index, *args, **kwargs):
        if index == frame_index:
            raise KeyboardInterrupt
        return write(self, index, *args, **kwargs)

    monkeypatch.setattr(video._Sinks, "write", interrupted)


def test_a_camera_stream_is_recorded_with_out_and_kept_at_ctrl_c(run, tmp_path, monkeypatch):
    """The live loop, with the test's video standing in for camera 0 (no camera here)."""
    from dlzoo import video

    monkeypatch.setattr(video, "open_camera", lambda cv2, index: (
        lambda c: (c, c.read()[1]))(cv2.VideoCapture(str(run["video"]))))
    out, table = tmp_path / "live.avi", tmp_path / "live.csv"
    result = video.predict_camera(SHIPPED, 0, out=out, csv_path=table, max_frames=4)
    assert result.frames == 4 and result.stopped == "end"
    assert len(_frames(out)) == 4
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    seconds = [float(r["seconds"]) for r in rows]  # the stream's clock, from its start
    assert len(rows) == 4 and seconds == sorted(seconds) and seconds[0] < 60
    assert [r["class_1"] for r in rows] == [r["class_1"] for r in run["rows"][:4]]
    # Ctrl-C is how a recording ends: what was recorded is kept, whole
    _interrupt_at(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        video.predict_camera(SHIPPED, 0, out=out, csv_path=table)
    assert len(_frames(out)) == 3 and len(table.read_text().splitlines()) == 1 + 3


def test_a_video_interrupted_halfway_leaves_no_file(run, tmp_path, monkeypatch):
    from dlzoo import video

    _interrupt_at(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        video.predict_video(SHIPPED, run["video"], out=tmp_path / "a.mp4",
                            csv_path=tmp_path / "a.csv")
    assert list(tmp_path.iterdir()) == []
