"""Benchmark `vap score`: end to end against its two stages alone, memory as the collection grows, resume.

    .venv/bin/python scripts/bench/bench_score.py      # writes docs/bench/score.md and docs/bench/score.json

On the same small videos (moving-digits test clips, copied to make a collection) and a tiny model:
- decode-only: the worker processes decoding every video's clips (no model), started beforehand;
- model-only: the model on clips decoded beforehand (no decoding);
- end to end: `vap score` itself, the marginal rate of a 1,000-video run over a 100-video run (so the fixed
  start-up is left out); its videos/s should be at least 0.85x the slower stage alone;
- peak memory of the `vap score` process (VmHWM) for 100 and for 1,000 videos: flat if nothing grows;
- resume: rerunning the finished 1,000-video job (nothing left to do);
- with `--ray` (when Ray is installed): the same for `vap score --engine ray` on a local Ray instance, and
  decoding alone through the same Ray Data decode stage; both as marginal rates of a --ray-videos run
  (3,000) over the 100-video one, which leave Ray's start-up (~25 s) out.
Repeats are interleaved and medians reported, as wall-clock time here is noisy.
`--videos real` makes the collection of copies of the real sample videos in datasets/samples (640x272,
176x144 and 1280x720 H.264, 4-10 s) instead: decoding a video then costs far more than a process's or
Ray's per-video overhead, as with the footage users bring (use smaller --small/--large/--ray-videos).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def make_collection(root: Path, n: int, real: bool = False) -> tuple[Path, list[Path]]:
    """A tiny trained checkpoint and `n` videos (moving-digits test clips, or with `real` the sample videos
    of datasets/samples, copied round-robin)."""
    import lightning as L

    from pipeline.data.datamodule import VideoDataModule
    from pipeline.tasks.classification import VideoClassificationTask

    md = root / "md"
    dm = VideoDataModule(train=str(md / "train.txt"), val=str(md / "val.txt"), test=str(md / "test.txt"),
                         make="moving-digits", make_args={"num_train": 24, "num_val": 6, "num_test": 24}, size=32,
                         batch_size=8, num_workers=0, sampler_args={"num_segments": 8})  # fmt: skip
    task = VideoClassificationTask(num_classes=6, backbone="tiny", weights=None, head="lstm")
    trainer = L.Trainer(max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                        default_root_dir=root)  # fmt: skip
    trainer.fit(task, datamodule=dm)
    ckpt = root / "model.ckpt"
    trainer.save_checkpoint(ckpt)
    sources = sorted((md / "test").rglob("*.mp4")) or sorted(md.rglob("*.mp4"))
    if real:
        sources = sorted((REPO / "datasets" / "samples").glob("*.mp4"))
    coll = root / ("videos_real" if real else "videos")
    coll.mkdir(exist_ok=True)
    videos = []
    for i in range(n):
        dst = coll / f"v{i:05d}.mp4"
        if not dst.exists():
            shutil.copy(sources[i % len(sources)], dst)
        videos.append(dst)
    return ckpt, videos


def stages(ckpt: Path, videos: list[Path], workers: int, threads: int | None = None) -> dict[str, float]:
    """Videos/s of decoding alone (the worker pool, started and warmed beforehand) and of the model
    alone (clips decoded beforehand, on `threads` torch threads)."""
    import torch

    from pipeline.data.pool import IsolatedPool
    from pipeline.inference.score import load_scorer

    scorer = load_scorer(ckpt)  # as `vap score` reads the checkpoint: once, in the main process
    with IsolatedPool(scorer.prepare(), jobs=workers, timeout=120) as pool:
        list(pool.map([str(v) for v in videos[: 2 * workers]]))  # start the workers, load the decoders
        t0 = time.perf_counter()
        decoded = [o.result for o in pool.map([str(v) for v in videos])]
        decode_s = time.perf_counter() - t0
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    t0 = time.perf_counter()
    n = sum(1 for _ in scorer.score(decoded))
    model_s = time.perf_counter() - t0
    torch.set_num_threads(before)
    assert n == len(videos)
    return {"decode_only": len(videos) / decode_s, "model_only": len(videos) / model_s}


def vap_score(
    ckpt: Path, folder: Path, out: Path, workers: int, engine: str = "local", threads: int | None = None
) -> dict[str, float]:
    """`vap score` in a fresh process: (videos/s or seconds, peak memory MB of the main process)."""
    code = (
        "import sys, time\n"
        "from pipeline.cli import main\n"
        "t = time.perf_counter()\n"
        "code = main(sys.argv[1:])\n"
        "t = time.perf_counter() - t\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "print(t, int(hwm.split()[1]) / 1024, code)\n"
    )
    args = ["score", "--checkpoint", str(ckpt), str(folder), "--out", str(out), "--workers", str(workers),
            "--engine", engine, *(["--threads", str(threads)] if threads else [])]  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, timeout=3600)
    seconds, peak, code_ = done.stdout.strip().splitlines()[-1].split()
    if code_ != "0":
        raise RuntimeError(done.stderr[-2000:])
    return {"seconds": float(seconds), "peak_mb": float(peak)}


def ray_decode_only(ckpt: Path, small: list[Path], large: list[Path], workers: int, model_cpus: int) -> float:
    """Videos/s of the Ray Data decode stage alone (as `--engine ray` runs it), the marginal rate of the
    large list over the small one, in a fresh process with its own local Ray instance."""
    code = (
        "import sys, time, json\n"
        "import ray\n"
        "from pipeline.inference.ray import decode_actors, decoded_dataset\n"
        "from pipeline.inference.score import load_scorer\n"
        "ckpt, workers, model_cpus, lists = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])\n"
        "decode = load_scorer(ckpt).prepare()\n"
        "ray.init(include_dashboard=False, log_to_driver=False)\n"
        "for paths in lists:\n"
        "    t = time.perf_counter()\n"
        "    ds = decoded_dataset(paths, decode=decode, timeout=120, actors=decode_actors(workers, model_cpus))\n"
        "    n = ds.count()\n"
        "    print(len(paths), n, time.perf_counter() - t, flush=True)\n"
    )
    lists = json.dumps([[str(v) for v in small], [str(v) for v in large]])
    done = subprocess.run([sys.executable, "-c", code, str(ckpt), str(workers), str(model_cpus), lists],
                          capture_output=True, text=True,
                          check=True, timeout=3600)  # fmt: skip
    (ns, cs, ts), (nl, cl, tl) = (line.split() for line in done.stdout.strip().splitlines()[-2:])
    assert ns == cs and nl == cl, done.stdout
    return marginal(int(nl) - int(ns), float(ts), float(tl))


def ray_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def marginal(extra_videos: int, seconds_small: float, seconds_large: float) -> float:
    """Videos/s of the extra videos of the large run; refuses figures that noise made meaningless."""
    if seconds_large <= seconds_small:
        raise RuntimeError(
            f"the {extra_videos} extra videos took no time ({seconds_small:.1f} s, then {seconds_large:.1f} s): "
            "too noisy to measure; rerun on an idle machine or with a higher --large"
        )
    return extra_videos / (seconds_large - seconds_small)


def fresh(out: Path) -> Path:
    for f in (out, out.with_name(out.name + ".run.json")):
        f.unlink(missing_ok=True)
    return out


def link_folder(folder: Path, videos: list[Path]) -> Path:
    """A folder of symlinks to `videos` (a smaller collection made from the same files)."""
    folder.mkdir(exist_ok=True)
    for v in videos:
        if not (folder / v.name).exists():
            (folder / v.name).symlink_to(v)
    return folder


def run(args: argparse.Namespace) -> dict:
    root = Path(args.work)
    with_ray = args.ray and ray_installed()
    real = args.videos == "real"
    ckpt, videos = make_collection(root, max(args.large, args.ray_videos if with_ray else 0), real)
    tag = "_real" if real else ""
    small = link_folder(root / f"small{tag}_{args.small}", videos[: args.small])
    large = link_folder(root / f"large{tag}_{args.large}", videos[: args.large])
    ray_large = link_folder(root / f"large{tag}_{args.ray_videos}", videos[: args.ray_videos]) if with_ray else None
    ratios, shared, e2e, dec, mod, runs = [], [], [], [], [], []
    r_e2e, r_dec, r_ratio, r_shared, r_runs = [], [], [], [], []
    for rep in range(args.repeats):  # local and Ray interleaved: each repeat's ratios use its own stage figures
        s = stages(ckpt, videos[: args.stage_videos], args.workers, args.model_threads)
        a = vap_score(ckpt, small, fresh(root / "small.jsonl"), args.workers, threads=args.model_threads)
        b = vap_score(ckpt, large, fresh(root / "large.jsonl"), args.workers, threads=args.model_threads)
        # the marginal rate: what the extra videos cost, without the fixed start-up (process, checkpoint, workers)
        e = marginal(args.large - args.small, a["seconds"], b["seconds"])
        dec.append(s["decode_only"])
        mod.append(s["model_only"])
        e2e.append(e)
        ratios.append(e / min(s.values()))
        # Without a GPU both stages run on the same cores: the best any overlap can do is the rate at which
        # the cores finish both kinds of work, 1 / (1/decode + 1/model).
        shared.append(e * (1 / s["decode_only"] + 1 / s["model_only"]))
        runs.append((a, b))
        print(f"repeat {rep + 1}: decode {s['decode_only']:.1f}, model {s['model_only']:.1f}, end to end {e:.1f} "
              "videos/s", file=sys.stderr)  # fmt: skip
        if ray_large is None:
            continue
        ra = vap_score(ckpt, small, fresh(root / "ray_small.jsonl"), args.workers, "ray", args.model_threads)
        rb = vap_score(ckpt, ray_large, fresh(root / "ray_large.jsonl"), args.workers, "ray", args.model_threads)
        r_e2e.append(marginal(args.ray_videos - args.small, ra["seconds"], rb["seconds"]))
        # the decode stage with the actors `vap score --engine ray` gives it beside the model actor
        r_dec.append(ray_decode_only(ckpt, videos[: args.small], videos[: args.ray_videos], args.workers,
                                     args.model_threads or 1))  # fmt: skip
        r_ratio.append(r_e2e[-1] / min(r_dec[-1], s["model_only"]))
        r_shared.append(r_e2e[-1] * (1 / r_dec[-1] + 1 / s["model_only"]))
        r_runs.append((ra, rb))
        print(f"ray repeat {rep + 1}: decode {r_dec[-1]:.1f}, end to end {r_e2e[-1]:.1f} videos/s", file=sys.stderr)
    resume = vap_score(ckpt, large, root / "large.jsonl", args.workers, threads=args.model_threads)
    a, b = runs[-1]
    ray: dict = {}
    if r_runs:
        ra, rb = r_runs[-1]
        ray = {"videos": [args.small, args.ray_videos], "decode_only_videos_per_s": statistics.median(r_dec),
               "end_to_end_videos_per_s": statistics.median(r_e2e),
               "end_to_end_over_slower_stage": statistics.median(r_ratio), "ratios": r_ratio,
               "end_to_end_over_shared_cores_bound": statistics.median(r_shared), "shared_ratios": r_shared,
               "run_seconds": {str(args.small): ra["seconds"], str(args.ray_videos): rb["seconds"]},
               "peak_mb_driver": {str(args.small): ra["peak_mb"], str(args.ray_videos): rb["peak_mb"]}}  # fmt: skip
    return {
        "ray": ray,
        "videos": [args.small, args.large], "stage_videos": args.stage_videos, "repeats": args.repeats,
        "workers": args.workers, "model_threads": args.model_threads, "collection": args.videos,
        "decode_only_videos_per_s": statistics.median(dec), "model_only_videos_per_s": statistics.median(mod),
        "end_to_end_videos_per_s": statistics.median(e2e), "end_to_end_over_slower_stage": statistics.median(ratios),
        "ratios": ratios, "end_to_end_over_shared_cores_bound": statistics.median(shared), "shared_ratios": shared,
        "run_seconds": {str(args.small): a["seconds"], str(args.large): b["seconds"]},
        "peak_mb": {str(args.small): a["peak_mb"], str(args.large): b["peak_mb"]},
        "resume_finished_seconds": resume["seconds"],
        "command": "python scripts/bench/bench_score.py " + " ".join(sys.argv[1:]),
    }  # fmt: skip


def write_report(r: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(r, indent=2) + "\n")
    small, large = (str(v) for v in r["videos"])
    lines = [
        "# `vap score` benchmark",
        "",
        f"Command: `{r['command'].strip()}`. "
        + (
            "Copies of the real sample videos in datasets/samples (bikes.mp4 640x272 10 s, carphone_pristine.mp4 "
            "176x144 4 s, bigbuckbunny.mp4 1280x720 5 s; H.264), 8 frames per clip at 32x32"
            if r.get("collection") == "real"
            else "Moving-digits clips (64x64, 8 frames per clip at 32x32)"
        )
        + f", a tiny CNN + LSTM checkpoint, CPU, {r['workers']} decoding workers, model threads "
        f"{r.get('model_threads') or 'default (model only: torch default; vap score: the cores the workers leave)'}; "
        f"median of {r['repeats']} interleaved repeats.",
        "",
        "| stage | videos/s |",
        "|---|---|",
        f"| decode only ({r['workers']} worker processes, started beforehand; {r['stage_videos']} videos) "
        f"| {r['decode_only_videos_per_s']:.1f} |",
        f"| model only (the same videos' clips decoded beforehand) | {r['model_only_videos_per_s']:.1f} |",
        f"| `vap score` end to end (the {large} - {small} extra videos of a {large}-video run over a "
        f"{small}-video run) | {r['end_to_end_videos_per_s']:.1f} |",
        "",
        f"End to end / the slower stage alone: **{r['end_to_end_over_slower_stage']:.2f}** (target: at least 0.85; "
        f"per repeat {', '.join(f'{x:.2f}' for x in r['ratios'])}). The fixed start-up (process, checkpoint, "
        f"decoding workers) is left out by taking the difference of two runs: {r['run_seconds'][small]:.1f} s "
        f"for {small} videos, {r['run_seconds'][large]:.1f} s for {large}.",
        "",
        "Without a GPU, decoding and the model share the same cores, so the best any overlap can reach is "
        "1 / (1/decode + 1/model) videos/s, below the slower stage whenever the two are of the same order; "
        f"end to end reaches **{r['end_to_end_over_shared_cores_bound']:.2f}** of that bound (per repeat "
        f"{', '.join(f'{x:.2f}' for x in r['shared_ratios'])}). With the model on a GPU the stages do not "
        "compete and the 0.85 target applies as stated.",
        "",
        f"Peak memory of the `vap score` process: {r['peak_mb'][small]:.0f} MB for {small} videos, "
        f"{r['peak_mb'][large]:.0f} MB for {large} videos.",
        "",
        f"Rerunning the finished {large}-video job: **{r['resume_finished_seconds']:.1f} s** (nothing left to "
        "score: the journal is read, no video is opened).",
    ]
    if r.get("ray"):
        y = r["ray"]
        rs, rl = (str(v) for v in y["videos"])
        lines += [
            "",
            f"## `--engine ray` (a local Ray instance on this machine, `--workers {r['workers']}`: the model actor on "
            f"{r.get('model_threads') or 1} CPU and as many decoding actors as fit beside it, at most {r['workers']})",
            "",
            "| stage | videos/s |",
            "|---|---|",
            f"| decode only (the Ray Data decode stage alone; {rl} - {rs} videos) "
            f"| {y['decode_only_videos_per_s']:.1f} |",
            f"| model only (as above: the same model stage) | {r['model_only_videos_per_s']:.1f} |",
            f"| `vap score --engine ray` end to end ({rl} - {rs} videos) | {y['end_to_end_videos_per_s']:.1f} |",
            "",
            f"End to end / the slower stage alone: **{y['end_to_end_over_slower_stage']:.2f}** (per repeat "
            f"{', '.join(f'{x:.2f}' for x in y['ratios'])}); of the shared-cores bound above: "
            f"**{y['end_to_end_over_shared_cores_bound']:.2f}** (per repeat "
            f"{', '.join(f'{x:.2f}' for x in y['shared_ratios'])}). Ray's start-up is left out the same way: "
            f"{y['run_seconds'][rs]:.1f} s for {rs} videos, {y['run_seconds'][rl]:.1f} s for {rl}. "
            f"Peak memory of the driver: {y['peak_mb_driver'][rs]:.0f} MB ({rs} videos), "
            f"{y['peak_mb_driver'][rl]:.0f} MB ({rl}).",
        ]
    out.write_text("\n".join(lines) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", type=int, default=100, help="videos for the throughput runs (default: 100)")
    p.add_argument("--large", type=int, default=1000, help="videos for the memory and resume runs (default: 1000)")
    p.add_argument("--stage-videos", type=int, default=600, help="videos for the stage runs (default: 600)")
    p.add_argument(
        "--ray-videos",
        type=int,
        default=3000,
        help="videos of the large Ray runs (default: 3000): Ray starts in ~25 s, give the difference room",
    )
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--videos",
        choices=("digits", "real"),
        default="digits",
        help="the collection: small moving-digits clips (default), or copies of the real sample videos",
    )
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--model-threads",
        type=int,
        default=None,
        help="torch threads of the model, alone and in vap score (--threads); with --workers 1 and "
        "--model-threads 1 on 2 cores each stage has a core of its own, as with a GPU",
    )
    p.add_argument(
        "--ray",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure --engine ray on a local Ray instance (when Ray is installed)",
    )
    p.add_argument("--work", default=str(Path.home() / ".cache" / "vap" / "bench_score"))
    p.add_argument("--out", type=Path, default=REPO / "docs" / "bench" / "score.md")
    args = p.parse_args()
    write_report(run(args), args.out)
    print(args.out.read_text())


if __name__ == "__main__":
    main()
