"""`dlzoo datasets list|export`: the data sources; digits exported as a folder of PNGs."""

from __future__ import annotations

from dlzoo.commands._options import CLIError, _parse_image_size


def run(args) -> int:
    if args.action == "export":
        from dlzoo.data.datasets import export_digits

        if args.name != "digits":
            raise CLIError(f"only 'digits' can be exported; received {args.name!r}")
        if not args.directory:
            raise CLIError("give the folder to write: dlzoo datasets export digits DIR")
        summary = export_digits(args.directory, image_size=args.image_size, overwrite=args.overwrite)
        print(f"wrote {summary['count']} PNG files ({summary['image_size'][0]}x"
              f"{summary['image_size'][1]}, grayscale) in 10 class folders under "
              f"{summary['directory']}; manifest {summary['manifest_hash'][:12]}")
        return 0
    from dlzoo.data.datasets import sources
    from dlzoo.data.tfds_sources import KNOWN_SPLITS

    for name, line in sources().items():
        print(f"{name:<20} {line}")
    print("tfds names (need prepared data or the network), e.g.: " + ", ".join(sorted(KNOWN_SPLITS)))
    return 0


def add_parser(sub):
    p = sub.add_parser("datasets", help="list data sources; export digits as a folder of PNGs")
    p.add_argument("action", choices=["list", "export"],
                   help="list the sources, or export one as a folder of PNGs")
    p.add_argument("name", nargs="?", default=None, help="for export: digits")
    p.add_argument("directory", nargs="?", default=None, help="for export: folder to write")
    p.add_argument("--image-size", type=_parse_image_size, default=(32, 32),
                   help="N or HxW (default 32x32)")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty folder")
    p.set_defaults(func=run)
