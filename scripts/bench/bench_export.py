"""`vap export` and scoring with ONNX Runtime: is the exported model right, and is it faster?

    .venv/bin/python scripts/bench/bench_export.py           # writes docs/bench/export.md and export.json
    .venv/bin/python scripts/bench/bench_export.py --quick   # one model, one repeat

Per model (a checkpoint written with random weights: speed and agreement do not depend on training):
- `vap export --format onnx` and `--format torchscript`: seconds, file size, and the largest |exported -
  eager| on a real clip of a sample video (the command's own check);
- model alone: clips/s of the eager torch model and of ONNX Runtime on the same decoded clips (batches of
  8, the threads `vap score` gives the model: the cores its decoding workers leave), repeats interleaved;
- end to end: `vap score` with the checkpoint and with the ONNX file on the same videos (the real sample
  videos in datasets/samples, copied), in fresh processes, repeats interleaved; videos/s and whether the
  records agree.
Medians of the repeats. Models: the default experiment's tiny CNN + LSTM at 32 px, and a MobileNetV2 +
TSN at 112 px, where the model's share of the time is larger.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass
class ModelSpec:
    name: str
    backbone: str
    head: str
    size: int
    frames: int
    attention: str = "none"


@dataclass
class BenchConfig:
    models: list[ModelSpec] = field(
        default_factory=lambda: [
            ModelSpec("tiny + LSTM, 32 px, TSN-8", "tiny", "lstm", 32, 8),
            ModelSpec("MobileNetV2 + SE + TSN, 112 px, TSN-8", "mobilenet_v2", "tsn", 112, 8, "se"),
        ]
    )
    repeats: int = 3
    clips: int = 64  # model alone: clips per repeat
    copies: int = 4  # end to end: each sample video this many times
    workers: int = 1


def write_checkpoint(spec: ModelSpec, path: Path) -> Path:
    """A `vap` checkpoint of `spec` with random weights, as `vap train` writes its record."""
    import torch

    from pipeline.data.transforms import IMAGENET_MEAN, IMAGENET_STD
    from pipeline.models.checkpoint import checkpoint_record
    from pipeline.models.video_classifier import VideoClassifier

    torch.manual_seed(0)
    model = VideoClassifier.build(num_classes=10, backbone=spec.backbone, attention=spec.attention, head=spec.head)
    fields = {"backbone": spec.backbone, "attention": spec.attention, "attention_stages": None,
              "attention_args": {}, "head": spec.head, "head_args": {}, "num_classes": 10}  # fmt: skip
    preprocessing = {"size": spec.size, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "sampler": "tsn",
                     "sampler_args": {"num_segments": spec.frames}, "test_clips": 1,
                     "eval_transforms": [{"name": "resize", "size": [spec.size, spec.size]}]}  # fmt: skip
    record = checkpoint_record(model=fields, class_names=[f"class_{i}" for i in range(10)], preprocessing=preprocessing)
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state, "vap": record}, path)
    return path


def vap(*args: str) -> tuple[float, str]:
    """Seconds of a `vap` command in a fresh process, and what it printed on stderr."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"vap {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - t0, done.stderr


def model_alone(ckpt: Path, onnx: Path, video: Path, cfg: BenchConfig, threads: int) -> dict[str, list[float]]:
    """Clips/s of eager torch and of ONNX Runtime on the same clips (one sample video's test clip, repeated)."""
    import torch

    from pipeline.data.clips import decode_clips, eval_pipeline
    from pipeline.inference.onnx_runtime import load_onnx
    from pipeline.models.checkpoint import load_model

    torch.set_num_threads(threads)
    eager, meta = load_model(ckpt)
    runtime, _ = load_onnx(onnx)
    sampler, transform = eval_pipeline(meta.preprocessing)
    clip = decode_clips(str(video), sampler=sampler, transform=transform).clips[:1]  # (1, T, C, H, W)
    batch = clip.repeat(8, 1, 1, 1, 1)  # (8, T, C, H, W)
    rates: dict[str, list[float]] = {"eager": [], "onnxruntime": []}
    with torch.inference_mode():
        for run in (eager, runtime):  # warm-up: ONNX Runtime makes its session, torch its kernels
            run(batch)
        for _ in range(cfg.repeats):
            for name, run in (("eager", eager), ("onnxruntime", runtime)):
                t0 = time.perf_counter()
                for _ in range(cfg.clips // 8):
                    run(batch)
                rates[name].append(cfg.clips / (time.perf_counter() - t0))
    return rates


def end_to_end(ckpt: Path, onnx: Path, videos: Path, work: Path, cfg: BenchConfig) -> dict[str, Any]:
    """`vap score` videos/s with the checkpoint and with the ONNX file, interleaved; and the records' agreement."""
    from pipeline.data.records import read_journal

    n = len(list(videos.iterdir()))
    rates: dict[str, list[float]] = {"eager": [], "onnxruntime": []}
    records = {}
    for _ in range(cfg.repeats):
        for name, model in (("eager", ckpt), ("onnxruntime", onnx)):
            out = work / f"{name}.jsonl"
            for f in work.glob(f"{name}.jsonl*"):
                f.unlink()
            seconds, _ = vap("score", "--checkpoint", str(model), str(videos), "--out", str(out), "--all-scores",
                             "--workers", str(cfg.workers))  # fmt: skip
            rates[name].append(n / seconds)
            records[name] = {r["path"]: r["scores"] for r in read_journal(out)}
    worst = max(
        abs(a - b) for p, s in records["eager"].items() for a, b in zip(s, records["onnxruntime"][p], strict=True)
    )
    return {"videos": n, "videos_per_s": rates, "max_score_diff": worst}


def run_model(spec: ModelSpec, cfg: BenchConfig, work: Path, videos: Path, sample: Path) -> dict[str, Any]:
    import os

    root = work / spec.backbone
    ckpt = write_checkpoint(spec, root / "model.ckpt")
    exports = {}
    for fmt, suffix in (("onnx", ".onnx"), ("torchscript", ".pt")):
        out = root / f"model{suffix}"
        seconds, said = vap("export", str(ckpt), "--format", fmt, "--out", str(out), "--video", str(sample))
        diff = said.split("max |exported - eager|")[-1].split()
        exports[fmt] = {"seconds": round(seconds, 1), "mb": round(out.stat().st_size / 2**20, 2),
                        "check": " ".join(diff)}  # fmt: skip
    threads = max(1, (os.cpu_count() or 1) - cfg.workers)  # what `vap score` gives its model
    alone = model_alone(ckpt, root / "model.onnx", sample, cfg, threads)
    e2e = end_to_end(ckpt, root / "model.onnx", videos, root, cfg)
    med = {k: statistics.median(v) for k, v in alone.items()}
    e2e_med = {k: statistics.median(v) for k, v in e2e["videos_per_s"].items()}
    return {
        "model": asdict(spec),
        "export": exports,
        "model_alone_clips_per_s": {k: round(v, 1) for k, v in med.items()},
        "model_alone_ratio": round(med["onnxruntime"] / med["eager"], 2),
        "model_alone_repeats": alone,
        "threads": threads,
        "end_to_end_videos_per_s": {k: round(v, 2) for k, v in e2e_med.items()},
        "end_to_end_ratio": round(e2e_med["onnxruntime"] / e2e_med["eager"], 2),
        "end_to_end_repeats": e2e["videos_per_s"],
        "videos": e2e["videos"],
        "max_score_diff": e2e["max_score_diff"],
    }


def write_report(
    results: list[dict[str, Any]], cfg: BenchConfig, out: Path, name: str, prov: dict[str, str] | None = None
) -> None:
    from pipeline.env import provenance

    prov = prov or provenance("bench/bench_export.py")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps({"config": asdict(cfg), "results": results, "provenance": prov},
                                                 indent=1) + "\n")  # fmt: skip
    exports = "\n".join(
        f"| {r['model']['name']} | {fmt} | {e['seconds']:.1f} | {e['mb']:.1f} | {e['check']} |"
        for r in results for fmt, e in r["export"].items()
    )  # fmt: skip
    speed = "\n".join(
        f"| {r['model']['name']} | {r['model_alone_clips_per_s']['eager']:.0f} | "
        f"{r['model_alone_clips_per_s']['onnxruntime']:.0f} | **{r['model_alone_ratio']:.2f}** | "
        f"{r['end_to_end_videos_per_s']['eager']:.2f} | {r['end_to_end_videos_per_s']['onnxruntime']:.2f} | "
        f"**{r['end_to_end_ratio']:.2f}** | {r['max_score_diff']:.1e} |"
        for r in results
    )
    (out / f"{name}.md").write_text(f"""# `vap export`: ONNX and TorchScript, and `vap score` with ONNX Runtime

Command: `{prov["command"]}` ({prov["date"]}). Machine: {prov["machine"]}. Medians of {cfg.repeats}
interleaved repeats. Checkpoints with random weights (agreement and speed do not depend on training).

Exports (`vap export ... --video datasets/samples/bikes.mp4`; the command loads the file as a user would and
compares it with the eager model on the video's first test clip, in batches of 1, 2 and 3):

| model | format | seconds | MB | max \\|exported - eager\\| (logits, attention, embedding) |
|---|---|---|---|---|
{exports}

Scoring: the model alone on the same decoded clips (batches of 8, {results[0]["threads"]} model thread(s), as
`vap score --workers {cfg.workers}` gives it on this machine), and `vap score` end to end on
{results[0]["videos"]} videos (the 3 sample videos in datasets/samples, {cfg.copies} copies each), in fresh
processes, start-up included, with the checkpoint and with the ONNX file:

| model | model alone, eager (clips/s) | ONNX Runtime (clips/s) | ratio | `vap score`, eager (videos/s) | with ONNX (videos/s) | ratio | max score difference |
|---|---|---|---|---|---|---|---|
{speed}

Scores are compared as recorded (6 decimals). End to end, decoding the samples (one of them 1280x720)
takes most of the time, so the runtime barely shows: these runs last seconds, and the ONNX one also loads
ONNX Runtime and builds its session at start-up. The model-alone columns are what a GPU-less deployment
with a heavier model gains. Not measured: a GPU (ONNX Runtime's CUDA provider is used when present and
`--device cuda` is asked for).
""")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=REPO / "docs" / "bench")
    p.add_argument("--work", type=Path, default=Path("/tmp/vap-bench-export"))
    p.add_argument("--quick", action="store_true", help="the tiny model only, one repeat")
    p.add_argument("--report-only", action="store_true", help="write the Markdown report again from --out's JSON")
    args = p.parse_args()
    if args.report_only:  # the report's wording changed, not its figures
        saved = json.loads((args.out / "export.json").read_text())
        cfg = BenchConfig(**{**saved["config"], "models": [ModelSpec(**m) for m in saved["config"]["models"]]})
        write_report(saved["results"], cfg, args.out, "export", saved["provenance"])
        return
    cfg = BenchConfig()
    if args.quick:
        cfg = BenchConfig(models=cfg.models[:1], repeats=1, clips=16, copies=1)
    samples = sorted((REPO / "datasets" / "samples").glob("*.mp4"))
    videos = args.work / "videos"
    shutil.rmtree(videos, ignore_errors=True)
    videos.mkdir(parents=True)
    for i in range(cfg.copies):
        for v in samples:
            (videos / f"{v.stem}_{i}{v.suffix}").symlink_to(v)
    sample = REPO / "datasets" / "samples" / "bikes.mp4"
    results = [run_model(spec, cfg, args.work, videos, sample) for spec in cfg.models]
    write_report(results, cfg, args.out, "export_quick" if args.quick else "export")
    print(json.dumps([{k: v for k, v in r.items() if "repeats" not in k} for r in results], indent=1))


if __name__ == "__main__":
    main()
