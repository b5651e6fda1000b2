"""The ``alpr`` command line: ``read``, ``run``, ``eval``, ``bench`` (+ ``train``/``bridge`` commands).

Heavy libraries (ONNX Runtime, OpenCV, ZeroMQ) are imported inside the commands, so ``alpr --help``
is instant. Errors are one line on stderr (exit status 1 for bad input, 2 for usage), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["build_parser", "main"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    # The distribution is ``alpr-engine`` (``alpr`` on PyPI is an unrelated package); an older editable
    # install may still carry the former name.
    for dist in ("alpr-engine", "alpr"):
        try:
            return version(dist)
        except PackageNotFoundError:  # pragma: no cover - depends on how the package was installed
            continue
    return "unknown"  # pragma: no cover - running from a source tree without metadata


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="TOML", help="pipeline config file (see alpr.config)")
    p.add_argument("--regions", metavar="LIST", help="plate formats, e.g. 'us,eu,br' or 'br-mercosur'")
    p.add_argument("--threads", type=int, metavar="N", help="ONNX Runtime intra-op threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser with every subcommand (optional ones registered when importable)."""
    parser = argparse.ArgumentParser(
        prog="alpr", description="Edge-first automatic licence plate recognition."
    )
    parser.add_argument("--version", action="version", version=f"alpr {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("read", help="read the plates in images (files, folders, globs)")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--json", action="store_true", help="one JSON object per image")
    _common(p)
    p.set_defaults(func=cmd_read)

    p = sub.add_parser("run", help="run on videos / cameras / streams; one event per vehicle")
    p.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="file, rtsp://..., /dev/video0, 0, gst pipeline, jetson:csi:0 (see alpr.jetson)",
    )
    p.add_argument("--json", action="store_true", help="one JSON line per vehicle event")
    p.add_argument("--camera", action="append", metavar="NAME", help="camera name (repeat, one per SOURCE)")
    p.add_argument(
        "--save-video", metavar="PATH", help="write the (first) source with overlays to PATH (.mp4)"
    )
    p.add_argument("--publish", metavar="ENDPOINT", help="publish events on a ZeroMQ endpoint (tcp://*:5556)")
    p.add_argument("--outbox", metavar="PATH", help="SQLite outbox for --publish (replay after restarts)")
    p.add_argument("--outbox-key", metavar="FILE", help="encrypt the outbox (file from `alpr keys outbox`)")
    p.add_argument("--curve-secret", metavar="FILE", help="CurveZMQ: this publisher's .key_secret")
    p.add_argument("--curve-clients", metavar="DIR", help="CurveZMQ: admit only these consumers' *.key")
    p.add_argument("--stride", type=int, metavar="N", help="run the detector on every N-th frame (default 3)")
    p.add_argument("--no-tracking", action="store_true", help="print every read instead of vehicle events")
    p.add_argument(
        "--health-port", type=int, metavar="PORT", help="serve GET /health (FPS, drops, last read)"
    )
    p.add_argument("--health-host", default="127.0.0.1", metavar="HOST", help="bind for --health-port")
    _common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("eval", help="end-to-end accuracy on OpenALPR benchmark-format data")
    p.add_argument("datadir", metavar="DATADIR")
    p.add_argument("--json", action="store_true", help="JSON summary")
    p.add_argument("--limit", type=int, metavar="N", help="first N images only")
    p.add_argument("--misreads", action="store_true", help="list misread plates")
    p.add_argument(
        "--gt-boxes", action="store_true", help="OCR only, on the ground-truth boxes (no detector)"
    )
    p.add_argument(
        "--per-region",
        action="store_true",
        help="constrain each folder (us, eu, br) to its own region's formats, like OpenALPR's -c REGION",
    )
    _common(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", help="FPS and per-stage latency on a video or synthetic frames")
    p.add_argument("source", nargs="?", metavar="VIDEO", help="video file (default: synthetic 1080p frames)")
    p.add_argument("--frames", type=int, default=300, metavar="N", help="frames to time (default 300)")
    p.add_argument("--stride", type=int, metavar="N", help="detector stride")
    p.add_argument("--json", action="store_true")
    _common(p)
    p.set_defaults(func=cmd_bench)

    for mod in ("alpr.train.cli", "alpr.bridge.cli", "alpr.doctor"):
        try:
            module = __import__(mod, fromlist=["add_parsers"])
        except ImportError:
            continue
        add = getattr(module, "add_parsers", None)
        if callable(add):
            add(sub)
    return parser


def _pipeline(args: argparse.Namespace, **overrides: Any) -> Any:
    from alpr.config import load_config
    from alpr.pipeline import Pipeline

    extra: dict[str, Any] = dict(overrides)
    if getattr(args, "regions", None):
        extra["regions"] = {"enabled": [r.strip() for r in args.regions.split(",") if r.strip()]}
    if getattr(args, "threads", None):
        extra["engine"] = {"intra_op_threads": args.threads}
    return Pipeline(config=load_config(args.config, **extra))


def _dumps(obj: Any) -> str:
    import orjson

    return orjson.dumps(obj).decode()


def cmd_read(args: argparse.Namespace) -> int:
    """``alpr read IMAGE...``."""
    from tqdm import tqdm

    from alpr.errors import SourceError
    from alpr.sources import expand_images, read_image

    paths = expand_images(args.images)
    if not paths:
        print(f"alpr: error: no images found in {' '.join(args.images)}", file=sys.stderr)
        return 1
    pipe = _pipeline(args)
    status = 0
    bar = tqdm(paths, unit="img", disable=args.no_progress or args.json or len(paths) < 2, file=sys.stderr)
    for path in bar:
        try:
            img = read_image(path)
        except SourceError as exc:
            print(f"alpr: {exc}", file=sys.stderr)
            if args.json:  # every input gets its line: an undecodable file is reported, not dropped
                print(_dumps({"image": str(path), "error": str(exc), "plates": []}))
            status = 1
            continue
        t0 = time.perf_counter()
        reads = pipe(img)
        ms = (time.perf_counter() - t0) * 1000
        if args.json:
            print(_dumps({"image": str(path), "ms": round(ms, 1), "plates": [r.to_dict() for r in reads]}))
        else:
            bar.write(f"{path}  ({ms:.0f} ms)")
            if not reads:
                bar.write("    (no plate)")
            for r in reads:
                x1, y1, x2, y2 = (round(v) for v in r.box)
                bar.write(
                    f"    {r.text:<10} conf {r.confidence:.2f}  det {r.detector_score:.2f}  "
                    f"{r.region or '-':<12} box {x1},{y1},{x2},{y2}"
                )
    return status


def _event_dict(ev: Any) -> dict[str, Any]:
    return dict(ev.to_dict())


def _source_problems(sources: Sequence[Any]) -> int:
    """1 (and a line on stderr per source) when a source skipped undecodable files or gave no frame."""
    status = 0
    for s in sources:
        bad = int(getattr(s, "errors", 0) or 0)
        if bad:
            print(f"alpr: error: {s.camera}: {bad} undecodable file(s) skipped", file=sys.stderr)
            status = 1
        elif s.frames == 0 and not getattr(s, "live", False):
            print(f"alpr: error: {s.camera}: no frames", file=sys.stderr)
            status = 1
    return status


def cmd_run(args: argparse.Namespace) -> int:
    """``alpr run SOURCE...``."""
    import datetime as dt

    from tqdm import tqdm

    from alpr.draw import draw_reads
    from alpr.errors import SourceError
    from alpr.pipeline import StreamRunner
    from alpr.sources import VideoSource, open_source

    names = args.camera or []
    if names and len(names) != len(args.sources):
        print(
            f"alpr: error: --camera given {len(names)} times for {len(args.sources)} sources", file=sys.stderr
        )
        return 2
    pipe = _pipeline(args, return_crops=bool(args.publish))
    stride = int(args.stride or pipe.config.detect_stride)
    sources = []
    status = 0
    for i, spec in enumerate(args.sources):
        try:
            # Without --save-video the frames between detector runs are never looked at: skip their
            # BGR conversion (they are still decoded, so the codec state stays right).
            skip = 1 if args.save_video and i == 0 else stride
            sources.append(open_source(spec, camera=names[i] if names else None, decode_stride=skip))
        except SourceError as exc:
            print(f"alpr: {exc}", file=sys.stderr)
            status = 1
    if not sources:
        return 1
    publisher = None
    if args.publish:
        publisher = publisher_from_args(args)
    writer = None
    first = sources[0]
    runner = StreamRunner(pipe, sources, stride=stride, tracking=not args.no_tracking)
    total = sum(s.total or 0 for s in sources) or None
    bar = tqdm(total=total, unit="f", disable=args.no_progress, file=sys.stderr, desc="run")
    last_reads: dict[str, list[Any]] = {}
    events = 0
    t0 = time.perf_counter()

    def utc(ts: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc)

    from alpr.stream.health import HealthServer, HealthState, Watchdog

    health = HealthState(sources)
    server = None if args.health_port is None else HealthServer(health, args.health_host, args.health_port)
    watchdog = Watchdog()
    if server is not None:
        server.start()
        print(f"alpr: health on http://{args.health_host}:{server.port}/health", file=sys.stderr)
    watchdog.ready()
    health_at = time.monotonic()
    try:
        for res in runner:
            health.observe(
                camera=res.camera,
                frame=res.frame is not None,
                reads=res.reads if res.detected else None,
                events=len(res.events),
            )
            if publisher is not None and time.monotonic() - health_at >= 1.0:
                # The heartbeats carry each camera's FPS, frames and drops, measured by ``health``.
                for camera, numbers in health.cameras().items():
                    publisher.report_health(camera, **numbers)
                health_at = time.monotonic()
            if res.frame is not None:
                watchdog.tick()
                bar.update(sum(s.frames for s in sources) - bar.n)
                if res.detected:
                    last_reads[res.camera] = res.reads
                if args.no_tracking and res.reads:
                    for r in res.reads:
                        d = {"camera": res.camera, "ts": utc(res.frame.ts).isoformat(), **r.to_dict()}
                        bar.write(_dumps(d) if args.json else f"{res.camera}  {r.text}  {r.confidence:.2f}")
                if args.save_video and res.camera == first.camera:
                    import cv2

                    img = draw_reads(res.frame.image, last_reads.get(res.camera, []))
                    if writer is None:
                        fps = first.fps if isinstance(first, VideoSource) else 25.0
                        h, w = img.shape[:2]
                        fourcc = cv2.VideoWriter.fourcc(*"mp4v")
                        writer = cv2.VideoWriter(args.save_video, fourcc, fps, (w, h))
                        if not writer.isOpened():
                            raise SourceError(f"cannot write video {args.save_video}")
                    writer.write(img)
            for ev in res.events:
                events += 1
                if args.json:
                    bar.write(_dumps(_event_dict(ev)))
                else:
                    bar.write(
                        f"{ev.camera}  {ev.plate:<10} conf {ev.confidence:.2f}  {ev.region or '-':<12} "
                        f"reads {ev.reads:>3}  {utc(ev.first_seen):%H:%M:%S.%f}"[:-3]
                    )
                if publisher is not None:
                    publisher.publish_vehicle(ev)
    except KeyboardInterrupt:
        pass
    finally:
        bar.close()
        if server is not None:
            server.close()
        for s in sources:
            s.close()
        if writer is not None:
            writer.release()
        if publisher is not None:
            publisher.close()
    wall = time.perf_counter() - t0
    for err in runner.errors:
        print(f"alpr: {err}", file=sys.stderr)
        status = 1
    status = max(status, _source_problems(sources))
    if not args.json:
        frames = sum(s.frames for s in sources)
        fps = frames / wall if wall > 0 else 0.0
        dropped = sum(s.dropped for s in sources)
        print(
            f"{frames} frames in {wall:.1f}s ({fps:.1f} FPS), {events} vehicle events, {dropped} dropped",
            file=sys.stderr,
        )
    return status


def cmd_eval(args: argparse.Namespace) -> int:
    """``alpr eval DATADIR``."""
    from alpr.evaluate import RegionScore, evaluate, evaluate_ocr, format_table, read_openalpr

    samples = read_openalpr(args.datadir)
    if args.limit:
        samples = samples[: args.limit]
    pipe = _pipeline(args)
    show = not args.no_progress and not args.json
    run = evaluate_ocr if args.gt_boxes else evaluate
    if args.per_region:
        from alpr.regions import builtin_regions

        known = builtin_regions()
        groups: dict[str, list[Any]] = {}
        for s in samples:
            groups.setdefault(s.region, []).append(s)
        scores = {}
        for region, group in groups.items():
            sub_pipe = pipe.with_regions([region]) if region in known else pipe
            scores.update({k: v for k, v in run(sub_pipe, group, progress=show).items() if k != "all"})
        scores["all"] = RegionScore.total(scores.values())
    else:
        scores = run(pipe, samples, progress=show)
    if args.json:
        print(_dumps({k: v.to_dict() for k, v in scores.items()}))
    else:
        print(format_table(scores))
        if args.misreads:
            for name, sc in scores.items():
                for img, gt, got in sc.misreads:
                    print(f"{name:<4} {img:<24} truth {gt:<10} read {got or '(not found)'}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """``alpr bench [VIDEO]``: end-to-end FPS with per-stage time per frame."""
    import numpy as np

    from alpr.pipeline import StreamRunner
    from alpr.sources import PushSource, VideoSource

    pipe = _pipeline(args)
    if args.source:
        source: Any = VideoSource(args.source, decode_stride=args.stride or pipe.config.detect_stride)
    else:
        push = PushSource("synthetic")
        rng = np.random.default_rng(0)
        frames = [rng.integers(0, 255, (1080, 1920, 3), dtype=np.uint8) for _ in range(4)]
        source = _Replay(push, frames, args.frames)
    runner = StreamRunner(pipe, [source], stride=args.stride)
    t0 = time.perf_counter()
    n = 0
    for res in runner:
        if res.frame is not None:
            n = int(getattr(source, "frames", 0)) if args.source else n + 1
            if n >= args.frames:
                break
    wall = time.perf_counter() - t0
    source.close()
    for err in runner.errors:
        print(f"alpr: error: {err}", file=sys.stderr)
    if n == 0 or runner.errors:
        print(
            "alpr: error: no frame could be timed" if n == 0 else "alpr: error: the source failed",
            file=sys.stderr,
        )
        return 1
    stages = {k: v[0] for k, v in pipe.times.items()}
    stages["track"] = runner.times.snapshot().get("track", (0.0, 0))[0]
    stages["wait_for_decode"] = runner.times.snapshot().get("wait", (0.0, 0))[0]
    per_frame = {k: round(v * 1000 / max(n, 1), 3) for k, v in stages.items()}
    report = {
        "frames": n,
        "detected_frames": runner.detected_frames,
        "fps": round(n / wall, 1) if wall else None,
        "ms_per_frame": per_frame,
    }
    if args.json:
        print(_dumps(report))
    else:
        print(f"{n} frames, {runner.detected_frames} detector runs, {report['fps']} FPS end to end")
        for k, v in per_frame.items():
            print(f"  {k:<16}{v:>9.3f} ms/frame")
    return 0


class _Replay:
    """Feeds the same few frames ``count`` times through a PushSource-like interface (for ``bench``)."""

    live = False

    def __init__(self, push: Any, frames: Sequence[Any], count: int) -> None:
        from alpr.sources import Frame

        self.camera = push.camera
        self.total = count
        self.error = None
        self.dropped = 0
        self._frames = frames
        self._count = count
        self._i = 0
        self._frame_cls = Frame

    def start(self) -> _Replay:
        return self

    def get(self, timeout: float | None = None) -> Any:
        if self._i >= self._count:
            return None
        img = self._frames[self._i % len(self._frames)]
        self._i += 1
        return self._frame_cls(img, self.camera, self._i - 1, time.time())

    def close(self) -> None:
        self._i = self._count


def publisher_from_args(args: argparse.Namespace) -> Any:
    """The ``Publisher`` of ``alpr run --publish`` with its outbox key and CurveZMQ options."""
    from alpr.errors import ConfigError
    from alpr.stream import Publisher
    from alpr.stream.keys import load_curve_clients, load_curve_keypair, read_outbox_key

    if args.curve_clients and not args.curve_secret:
        raise ConfigError("--curve-clients needs --curve-secret (the publisher's own certificate)")
    if args.outbox_key and not args.outbox:
        raise ConfigError("--outbox-key needs --outbox (an in-memory outbox is never on disk)")
    import logging

    log = logging.getLogger("alpr")
    host = args.publish.partition("://")[2].rpartition(":")[0]
    loopback = host in ("127.0.0.1", "localhost", "[::1]", "::1")
    if args.publish.startswith("tcp://") and not loopback and not args.curve_clients:
        log.warning(
            "%s: anyone who reaches its replay port (PUB port + 1) can acknowledge and so delete"
            " events; admit only your consumers with --curve-secret and --curve-clients",
            args.publish,
        )
    if args.outbox and not args.outbox_key:
        log.warning(
            "the outbox %s keeps plates and crops in clear until they are acknowledged;"
            " encrypt it with --outbox-key (alpr keys outbox --key-file FILE)",
            args.outbox,
        )
    return Publisher(
        args.publish,
        outbox=args.outbox,
        outbox_key=read_outbox_key(args.outbox_key) if args.outbox_key else None,
        curve_server_secret=load_curve_keypair(args.curve_secret)[1] if args.curve_secret else None,
        curve_client_keys=load_curve_clients(args.curve_clients) if args.curve_clients else None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``alpr`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    import logging

    logging.basicConfig(level=logging.WARNING, format="alpr: %(message)s")
    from alpr.errors import AlprError

    try:
        return int(args.func(args))
    except AlprError as exc:
        print(f"alpr: error: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(f"alpr: error: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"alpr: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
