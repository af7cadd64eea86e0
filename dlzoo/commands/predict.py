"""`dlzoo predict MODEL_DIR FILE...`: top-k classes of files (`dlzoo.evaluation.predict_files`),
ratings of USER,ITEM pairs, or the frames of a video or camera (`dlzoo.video`)."""

from __future__ import annotations

import argparse
import json
import sys

from dlzoo.commands._options import (
    EXIT_SKIPPED,
    EXIT_STATUSES,
    CLIError,
    _add_tta_flags,
    _refuse_tta,
    _saved_task,
    _tta_from,
)
from dlzoo.tasks import Task


def run(args) -> int:
    if _stream_flags(args):  # --video / --camera: dlzoo.video
        return _predict_stream(args)
    from dlzoo.evaluation import predict_files

    _refuse_tta(args, _saved_task(args.model_dir))
    if _saved_task(args.model_dir) is Task.TEXT_GENERATION:
        raise CLIError(f"{args.model_dir} is a language model: write sentences with `dlzoo "
                       f"generate {args.model_dir} --start \"...\"`")
    if not args.files:  # (optional since --video and --camera take none)
        raise CLIError("give what to predict: image files or folders (dlzoo predict MODEL "
                       "FILE...), USER,ITEM pairs for a recommender, --video FILE or --camera N")
    if _saved_task(args.model_dir) is Task.RATING_PREDICTION:  # USER,ITEM pairs, not files
        from dlzoo.recommendation import predict_ratings

        rows = predict_ratings(args.model_dir, args.files)
        if args.json:
            print(json.dumps([{"user": u, "item": i, "rating": round(r, 6)} for u, i, r in rows],
                             indent=2))
        else:
            for u, i, r in rows:
                print(f"user {u}, item {i}: {r:.3f}")
        return 0

    found = predict_files(args.model_dir, args.files, k=args.top_k, tta=_tta_from(args))
    for path, reason in found.skipped:
        print(f"{path}: skipped: {reason}", file=sys.stderr)
    total = len(found.rows) + len(found.skipped)
    if not found.rows:
        raise CLIError(f"none of the {total} file(s) could be read as an image (each named above)"
                       if total else f"no files found in {' '.join(args.files)}")
    _print_predictions(found, as_json=args.json)
    print(f"read {len(found.rows)} of {total} file(s); {len(found.skipped)} could not be read"
          + (" (named above)" if found.skipped else ""), file=sys.stderr)
    return EXIT_SKIPPED if found.skipped else 0


def _print_predictions(found, *, as_json: bool) -> None:
    """predict's rows: each file's top-k; with --tta, the averaged views' figures and the plain
    ones beside them."""
    def top(row):
        return [{"class": c, "probability": round(p, 6)} for c, p in row]

    plain = dict(found.plain or ())
    key = "labels" if found.multi_label else "top"  # multi-label: each label above its threshold
    if as_json:
        out = []
        for f, row in found.rows:
            item = {"file": f, key: top(row)}
            if found.tta is not None:
                item.update({f"plain_{key}": top(plain[f]), "tta": found.tta.to_dict()})
            out.append(item)
        print(json.dumps(out, indent=2))
        return
    if found.tta is not None:
        print(f"with test-time augmentation, {found.tta.describe()}; plain figures in brackets",
              file=sys.stderr)
    def shown(row):  # a multi-label file may have no label above its threshold
        return ", ".join(f"{c} {p:.3f}" for c, p in row) or "no label above its threshold"

    for f, row in found.rows:
        line = f"{f}: " + shown(row)
        if found.tta is not None:
            line += f" (plain: {shown(plain[f])})"
        print(line)


def add_parser(sub):
    p = sub.add_parser("predict", help="top-k classes for image files or folders",
                       epilog=EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir", help="a saved model folder (saved_models/NAME)")
    p.add_argument("files", nargs="*",
                   help="image files, or folders (their image files, recursively); for a "
                        "recommender, USER,ITEM pairs such as 3,7")
    p.add_argument("--top-k", type=int, default=3, help="classes shown per file (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_stream_flags(p)
    _add_tta_flags(p, "the plain figures shown beside them")
    p.set_defaults(func=run)


# predict --video / --camera (dlzoo.video)
_STREAM_FLAGS = ("video", "camera", "out", "csv", "max_frames")


def _add_stream_flags(p):
    g = p.add_argument_group("video and camera (OpenCV: pip install opencv-python-headless)")
    g.add_argument("--video", metavar="FILE", default=None,
                   help="classify every frame of a video: writes an annotated copy (top-1 class "
                        "and probability on each frame; --out) and a CSV of each frame's top-k "
                        "with its time in seconds (--csv)")
    g.add_argument("--camera", metavar="N", type=int, default=None,
                   help="classify camera N (0 is the first) live in a window, with frames per "
                        "second; q or Esc stops. Without a display, --out writes it instead")
    g.add_argument("--out", metavar="FILE", default=None,
                   help="the annotated video (.mp4, .m4v, .mov, .avi or .mkv); for --video, "
                        "default VIDEO_STEM.annotated.mp4 beside it")
    g.add_argument("--csv", metavar="FILE", default=None,
                   help="the per-frame CSV (frame,seconds,class_1,probability_1,...); for "
                        "--video, default VIDEO_STEM.predictions.csv beside it")
    g.add_argument("--max-frames", metavar="N", type=int, default=None,
                   help="stop after N frames (default: the whole video, or until stopped)")


def _stream_flags(args) -> list:
    return [f for f in _STREAM_FLAGS if getattr(args, f, None) is not None]


def _predict_stream(args) -> int:
    given = _stream_flags(args)
    if args.video is not None and args.camera is not None:
        raise CLIError("--video and --camera contradict each other: give one")
    if args.video is None and args.camera is None:
        raise CLIError(f"--{given[0].replace('_', '-')} only applies with --video or --camera; "
                       "add one or drop it")
    source = f"--video {args.video}" if args.video is not None else f"--camera {args.camera}"
    if args.files:
        raise CLIError(f"{source} classifies frames; give image files to a separate "
                       f"`dlzoo predict MODEL FILE...` (received {' '.join(args.files)})")
    if args.json:
        raise CLIError(f"--json does not apply to {source}: the per-frame rows go to the CSV "
                       "(--csv)")
    if (_saved_task(args.model_dir) or Task.IMAGE_CLASSIFICATION).has_own_data:
        raise CLIError(f"{args.model_dir} is not an image classifier ({_saved_task(args.model_dir)}"
                       f"); {source} takes one")
    from dlzoo import video

    if args.video is not None:
        result = video.predict_video(args.model_dir, args.video, out=args.out, csv_path=args.csv,
                                     k=args.top_k, max_frames=args.max_frames)
    else:
        result = video.predict_camera(args.model_dir, args.camera, out=args.out,
                                      csv_path=args.csv, k=args.top_k,
                                      max_frames=args.max_frames)
    written = " and ".join(str(p) for p in (result.video, result.csv) if p is not None)
    rate = result.frames / result.seconds if result.seconds > 0 else 0.0
    print(f"classified {result.frames} frame(s) of {source.split(' ', 1)[1]} "
          f"({rate:.1f} frames per second)" + (f"; wrote {written}" if written else ""))
    return 0
