"""Planted ground truth for `vap summarize`: do the selected shots hit the planted novel shots?

Each seed splices one video from 2-second shots of the sample footage (datasets/samples: bikes,
carphone, Big Buck Bunny, see its PROVENANCE.md) and of moving-digits renders: `repeated` contents
come back `appearances` times each, `novel` contents appear once (at least one of each kind is a
moving-digits shot). The novel shots are the planted summary. Then, at the same budget (--ratio of the
frames):
  coverage   `summarize_video` as `vap summarize` runs it by default: key frames that cover the video
             (facility location over MobileNetV2 features), their shots within the budget;
  rl         `summarize_video` as `vap summarize --method rl` runs it (MobileNetV2, KTS, DR-DSN with
             R_div over all pairs of picks, a knapsack valuing each shot by the sum of its scores);
  attention  the same with `--method attention` when --attention-checkpoint is given;
  random     uniform random step scores through the same KTS shots and the same sum-valued knapsack
             (Otani et al. 2019, Apostolidis et al. 2020), mean over --draws draws;
  uniform    the budget in k evenly spaced pieces of --uniform-piece-seconds (k = budget / piece);
  ceiling    the best any selection can do (the whole budget inside planted frames);
  rl, paper settings (R_div within 20 steps, mean-valued knapsack)   DR-DSN with the paper's rule that
             picks more than 20 steps apart count as fully dissimilar, and the TVSum/SumMe protocol's
             knapsack valuing a shot by the mean of its scores (`--max-distance 20 --shot-value mean`),
             beside `random, mean-valued knapsack`, random scores through that same selection;
  rl, mean-valued knapsack / rl, R_div within 20 steps   diagnostics, each one setting away from the
             default: the default scores through the mean-valued knapsack; the paper's scores through the
             sum-valued one (no third training: the same scores and shots, selected again).
  rl, pre-trained on the other seeds' videos   with --pretrained: one DR-DSN policy trained (as
             `vap summarize train --method rl`) over the spliced videos of every other seed of the
             layout, saved, and applied to this seed's video (`--method rl --checkpoint`): what a policy
             learned on other videos of the same making finds, without training on this one.
F-score: frame overlap with the planted frames. Rank correlation (Kendall tau, Spearman rho, as Otani
et al.): the method's score of every sampled frame against planted (1) / not planted (0).

From the repository root, S = scripts/research/summarization (results/ is beside this script):

    .venv/bin/python $S/summarize_proof.py      # 10 seeds (~8 min): results/summarize_proof.{json,md}
    .venv/bin/python $S/summarize_proof.py --seeds 0 --shot-seconds 0.4 --appearances 2 --epochs 3 \
        --draws 5 --size 64x48 --backbone tiny --out /tmp/proof   # smoke run
    .venv/bin/python $S/summarize_proof.py --pretrained --no-diagnostics --name summarize_proof_pretrained
        # rl, per-video and pre-trained: results/summarize_proof_pretrained.{json,md}
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF

from pipeline.data.backends import open_video
from pipeline.data.moving_digits import MovingDigitsConfig, digit_pools, render_video
from pipeline.data.writer import write_video
from pipeline.env import provenance
from pipeline.inference.summarize.selection import Budget
from pipeline.inference.summarize.video import (
    build_summarizer,
    default_backbone,
    features_id,
    summarize_video,
    video_features,
)
from pipeline.models.summary import f_score, rank_correlation, select_shots, shot_values
from pipeline.models.summary.dsn import save_dsn
from pipeline.tasks.dr_dsn import DRDSNConfig, train_dsn

REPO = Path(__file__).resolve().parents[3]
RESULTS = Path(__file__).resolve().parent / "results"
SAMPLES = ("bikes.mp4", "carphone_pristine.mp4", "bigbuckbunny.mp4")
FPS = 25
LAYOUTS = ("other-sources", "any")
PAPER = "rl, paper settings (R_div within 20 steps, mean-valued knapsack)"
RANDOM_MEAN = "random, mean-valued knapsack"
MEAN_KNAPSACK = "rl, mean-valued knapsack"  # the default's scores, the protocol's selection
PAPER_RDIV = "rl, R_div within 20 steps"  # the paper's scores, the default's sum-valued selection
PRETRAINED = "rl, pre-trained on the other seeds' videos"
BASELINE = {PAPER: RANDOM_MEAN}  # the random row that goes through the same selection; "random" otherwise


@dataclass
class Segment:
    name: str  # e.g. "bikes.mp4@50" or "digits#3"
    kind: str  # "natural" or "digits"
    frames: torch.Tensor  # uint8 (n, 3, H, W)


def natural_segments(folder: Path, n: int, size: tuple[int, int], per_video: int = 5) -> list[Segment]:
    """Up to `per_video` non-overlapping n-frame pieces of every sample video, evenly spread over it
    (only their frames are decoded), resized to (H, W)."""
    out = []
    for name in SAMPLES:
        with open_video(folder / name) as v:
            count = v.meta.num_frames // n
            starts = [n * (j * count // min(per_video, count)) for j in range(min(per_video, count))]
            frames = v.get_frames([s + i for s in starts for i in range(n)])  # (k * n, 3, h, w)
        frames = TF.resize(frames, list(size), antialias=True)  # (k * n, 3, H, W)
        out += [Segment(f"{name}@{s}", "natural", frames[j * n : (j + 1) * n]) for j, s in enumerate(starts)]
    return out


def digit_segments(count: int, n: int, size: tuple[int, int], seed: int) -> list[Segment]:
    """Moving-digits shots (one digit moving or zooming on a noisy canvas), resized to (H, W)."""
    cfg = MovingDigitsConfig(frames=n, size=64, fps=FPS)
    pool = digit_pools(seed)["test"]
    rng = np.random.default_rng([seed, 7])
    out = []
    for i in range(count):
        frames, _ = render_video(i % 6, rng, pool, cfg)  # (n, 3, 64, 64)
        out.append(Segment(f"digits#{i}", "digits", TF.resize(frames, list(size), antialias=True)))
    return out


def plan(
    rng: np.random.Generator, pool: list[Segment], repeated: int, appearances: int, novel: int, layout: str
) -> list[tuple]:
    """[(segment index, is_novel)] in playing order: one digits shot among the novel and (with two or
    more) among the repeated contents, no content twice in a row. Layout "other-sources": every novel
    natural shot comes from a sample video that no other chosen content comes from (novel in content,
    not just in time); "any": novel shots may be other seconds of the repeated shot's video."""
    dig = [i for i, s in enumerate(pool) if s.kind == "digits"]
    rng.shuffle(dig)
    n_rep_nat = repeated - (repeated >= 2)
    n_new_nat = novel - 1
    by_source: dict[str, list[int]] = {}
    for i, s in enumerate(pool):
        if s.kind == "natural":
            by_source.setdefault(s.name.split("@")[0], []).append(i)
    for ids in by_source.values():
        rng.shuffle(ids)
    sources = sorted(by_source)
    rng.shuffle(sources)
    if layout == "other-sources":
        if n_rep_nat + n_new_nat > len(sources):
            raise ValueError(f"{n_rep_nat + n_new_nat} natural contents from distinct videos, {len(sources)} videos")
        picks = [by_source[src][0] for src in sources[: n_rep_nat + n_new_nat]]
    else:
        picks = [i for i in rng.permutation([i for ids in by_source.values() for i in ids])][: n_rep_nat + n_new_nat]
    rep_ids = ([dig.pop()] if repeated >= 2 else []) + [int(i) for i in picks[:n_rep_nat]]
    new_ids = [dig.pop()] + [int(i) for i in picks[n_rep_nat:]]
    items = [(i, False) for i in rep_ids for _ in range(appearances)] + [(i, True) for i in new_ids]
    for _ in range(1000):
        order = [items[j] for j in rng.permutation(len(items))]
        if all(a[0] != b[0] for a, b in zip(order, order[1:], strict=False)):
            return order
    raise RuntimeError("could not order the shots without repeating a content back to back")


def splice(path: Path, pool: list[Segment], order: list[tuple]) -> tuple[Path, np.ndarray, list[dict]]:
    """Write the video; returns it, the planted-frame mask (n_frames,) and the shot list."""
    shots, start = [], 0
    for i, novel in order:
        n = len(pool[i].frames)
        shots.append(
            {"content": pool[i].name, "kind": pool[i].kind, "novel": novel, "start": start, "end": start + n - 1}
        )
        start += n
    write_video(path, (f for i, _ in order for f in pool[i].frames), fps=FPS)
    planted = np.zeros(start, dtype=bool)
    for s in shots:
        planted[s["start"] : s["end"] + 1] = s["novel"]
    return path, planted, shots


def mask_of(shots: np.ndarray, selected: np.ndarray, n: int) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    for k in selected:
        m[shots[k][0] : shots[k][1] + 1] = True
    return m


def selection_numbers(mask: np.ndarray, planted: np.ndarray, plan_shots: list[dict]) -> dict:
    """F-score against the planted frames, novel shots touched (any frame selected), share in repeats."""
    hit = sum(mask[s["start"] : s["end"] + 1].any() for s in plan_shots if s["novel"])
    return {
        "f_score": f_score(mask, planted).f,
        "novel_shots_touched": int(hit),
        "selected_frames": int(mask.sum()),
        "selected_in_repeats": float((mask & ~planted).sum() / max(1, mask.sum())),
    }


def contents_shown(keyframes: list[int], plan_shots: list[dict]) -> dict:
    """Which planted contents the key frames show: distinct contents, and the novel ones among them."""
    shown = {s["content"]: s["novel"] for k in keyframes for s in plan_shots if s["start"] <= k <= s["end"]}
    return {"keyframes": len(keyframes), "contents": len(shown), "novel": sum(shown.values())}


def method_row(summary, planted: np.ndarray, plan_shots: list[dict]) -> dict:
    idx = np.array(summary.indices)
    clips = np.array(summary.clips)  # what summary.mp4 holds: each kept shot, or its part within the budget
    row = selection_numbers(mask_of(clips, np.arange(len(clips)), len(planted)), planted, plan_shots)
    tau, rho = rank_correlation(np.array(summary.scores), planted[idx].astype(float))
    scores = np.array(summary.scores)
    row.update(tau=tau, rho=rho, selected_shots=len(summary.selected),
               mean_score_novel=float(scores[planted[idx]].mean()),
               mean_score_repeated=float(scores[~planted[idx]].mean()))  # fmt: skip
    return row


def step_segments(summary) -> np.ndarray:
    """The summary's shots as inclusive ranges of its sampled steps (what KTS cut), (S, 2)."""
    idx = np.array(summary.indices)
    return np.array([[np.searchsorted(idx, s), np.searchsorted(idx, e, side="right") - 1] for s, e in summary.shots])


def select(summary, scores: np.ndarray, rule: str, ratio: float) -> np.ndarray:
    """The shots `summarize_video` keeps for these step scores with shots valued by `rule` (sum or mean)."""
    values = shot_values(scores, step_segments(summary), rule)  # (S,)
    return select_shots(values, np.array(summary.shots), summary.num_frames, ratio)


def reselect_row(summary, planted: np.ndarray, plan_shots: list[dict], ratio: float, rule: str) -> dict:
    """Diagnostic: the method's own scores and shots, selected with shots valued by `rule`."""
    chosen = select(summary, np.array(summary.scores), rule, ratio)
    row = selection_numbers(mask_of(np.array(summary.shots), chosen, len(planted)), planted, plan_shots)
    return {**row, "tau": float("nan"), "rho": float("nan")}


def random_row(
    summary, planted: np.ndarray, plan_shots: list[dict], ratio: float, draws: int, seed: int, rule: str = "sum"
) -> dict:
    """Random step scores through the method's own KTS shots and the knapsack (shots valued by `rule`, as
    the row it is compared with), averaged over draws."""
    shots, idx = np.array(summary.shots), np.array(summary.indices)
    rng = np.random.default_rng([seed, 99])
    rows = []
    for _ in range(draws):
        scores = rng.random(len(idx))
        row = selection_numbers(mask_of(shots, select(summary, scores, rule, ratio), len(planted)), planted,
                                plan_shots)  # fmt: skip
        row["tau"], row["rho"] = rank_correlation(scores, planted[idx].astype(float))
        rows.append(row)
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def uniform_row(planted: np.ndarray, plan_shots: list[dict], ratio: float, piece_frames: int) -> dict:
    """The budget in k = budget / piece_frames evenly spaced pieces (centred at (i + 1/2) n / k)."""
    n = len(planted)
    budget = int(np.floor(ratio * n))
    k = max(1, round(budget / piece_frames))
    piece = budget // k
    mask = np.zeros(n, dtype=bool)
    for i in range(k):
        start = int((i + 0.5) * n / k - piece / 2)
        mask[max(0, start) : max(0, start) + piece] = True
    return {**selection_numbers(mask, planted, plan_shots), "tau": float("nan"), "rho": float("nan")}


def ceiling_f(planted: np.ndarray, ratio: float) -> float:
    budget, p = int(np.floor(ratio * len(planted))), int(planted.sum())
    tp = min(budget, p)
    return 2 * tp / (budget + p) if tp else 0.0


def make_backbone(name: str) -> torch.nn.Module:
    if name == "mobilenet_v2":
        return default_backbone()
    from pipeline.models.backbones import build_backbone

    torch.manual_seed(0)
    return build_backbone(name).eval()


def run_layout(args: argparse.Namespace, layout: str, naturals: list[Segment], backbone, attention) -> dict:
    size = tuple(int(x) for x in args.size.split("x"))[::-1]  # "WxH" -> (H, W)
    n = round(args.shot_seconds * FPS)
    seeds, videos = [], []
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        pool = naturals + digit_segments(args.repeated + args.novel, n, size, seed)
        order = plan(rng, pool, args.repeated, args.appearances, args.novel, layout)
        path, planted, plan_shots = splice(args.work / f"proof_{layout}_seed{seed}.mp4", pool, order)
        t0 = time.perf_counter()
        rl = summarize_video(path, method="rl", ratio=args.ratio, backbone=backbone, seed=seed,
                             method_args={"epochs": args.epochs})  # fmt: skip  # vap summarize's defaults
        rows = {"rl": method_row(rl, planted, plan_shots)}
        rows["rl"]["seconds"] = round(time.perf_counter() - t0, 2)
        if attention is not None:
            att = summarize_video(path, method="attention", ratio=args.ratio, backbone=backbone, summarizer=attention)
            rows["attention"] = method_row(att, planted, plan_shots)
        cov = summarize_video(path, method="coverage", ratio=args.ratio, backbone=backbone, seed=seed)
        rows["coverage"] = method_row(cov, planted, plan_shots)  # the default of `vap summarize`
        # N key frames, N = the number of distinct contents: which contents do the key frames show?
        n_contents = args.repeated + args.novel
        keyframe_rows = {}
        for m, extra in (("coverage", {}), ("rl", {"method_args": {"epochs": args.epochs}})):
            kf = summarize_video(path, method=m, budget=Budget(keyframes=n_contents), backbone=backbone, seed=seed,
                                 **extra)  # fmt: skip
            keyframe_rows[m] = {"asked": n_contents, **contents_shown(kf.keyframes, plan_shots)}
        rows["random"] = random_row(rl, planted, plan_shots, args.ratio, args.draws, seed, "sum")
        if args.diagnostics:  # the paper's settings: R_div within 20 steps, the protocol's mean-valued knapsack
            paper = summarize_video(path, method="rl", ratio=args.ratio, backbone=backbone, seed=seed,
                                    method_args={"epochs": args.epochs, "max_distance": 20},
                                    shot_value="mean")  # fmt: skip
            rows[PAPER] = method_row(paper, planted, plan_shots)
            rows[RANDOM_MEAN] = random_row(paper, planted, plan_shots, args.ratio, args.draws, seed, "mean")
            rows[MEAN_KNAPSACK] = reselect_row(rl, planted, plan_shots, args.ratio, "mean")
            rows[PAPER_RDIV] = reselect_row(paper, planted, plan_shots, args.ratio, "sum")
        rows["uniform"] = uniform_row(planted, plan_shots, args.ratio, round(args.uniform_piece_seconds * FPS))
        seeds.append({
            "seed": seed, "frames": len(planted), "planted_frames": int(planted.sum()), "kts_shots": len(rl.shots),
            "keyframes": keyframe_rows,
            "ceiling_f_score": ceiling_f(planted, args.ratio), "plan": plan_shots, "methods": rows,
        })  # fmt: skip
        videos.append((path, planted, plan_shots))
        print(f"{layout} seed {seed}: " + ", ".join(f"{m} F {r['f_score']:.3f}" for m, r in rows.items()), flush=True)
    if args.pretrained:
        for sd, row in zip(seeds, pretrained_rows(args, layout, videos, backbone), strict=True):
            sd["methods"][PRETRAINED] = row
    return {"seeds": seeds, **compare(seeds)}


def pretrained_rows(args: argparse.Namespace, layout: str, videos: list[tuple], backbone) -> list[dict]:
    """Per seed: a DR-DSN policy trained over the other seeds' videos (leave one out), saved as
    `vap summarize train --method rl` saves it, then applied to this seed's video through the checkpoint."""
    feats = [video_features(path, backbone).features for path, _, _ in videos]  # [(T_i, D)] at 2 fps
    rows = []
    for i, (seed, (path, planted, plan_shots)) in enumerate(zip(args.seeds, videos, strict=True)):
        others = [f for j, f in enumerate(feats) if j != i]
        cfg = DRDSNConfig(epochs=args.epochs, seed=seed)
        t0 = time.perf_counter()
        model, _ = train_dsn(others, cfg)
        record = {"features": features_id(backbone), "sample_fps": 2.0,
                  "videos": [{"path": str(p), "steps": int(f.shape[0])} for j, ((p, _, _), f)
                             in enumerate(zip(videos, feats, strict=True)) if j != i]}  # fmt: skip
        ckpt = save_dsn(args.work / f"pretrained_{layout}_seed{seed}.pt", model, cfg, record)
        train_s = time.perf_counter() - t0
        applied = summarize_video(path, method="rl", ratio=args.ratio, backbone=backbone,
                                  summarizer=build_summarizer("rl", checkpoint=ckpt))  # fmt: skip
        rows.append({**method_row(applied, planted, plan_shots), "train_seconds": round(train_s, 2),
                     "trained_on_videos": len(others)})  # fmt: skip
        print(f"{layout} seed {seed}: {PRETRAINED} F {rows[-1]['f_score']:.3f}", flush=True)
    return rows


def run(args: argparse.Namespace) -> dict:
    size = tuple(int(x) for x in args.size.split("x"))[::-1]  # "WxH" -> (H, W)
    backbone = make_backbone(args.backbone)
    ckpt = args.attention_checkpoint
    attention = build_summarizer("attention", checkpoint=ckpt) if ckpt else None
    naturals = natural_segments(args.videos, round(args.shot_seconds * FPS), size)
    return {"layouts": {lay: run_layout(args, lay, naturals, backbone, attention) for lay in args.layouts}}


def _ratio(ours: float, base: float) -> float:
    """ours / base; inf when only the baseline scores 0, nan when both do."""
    if base > 0:
        return ours / base
    return float("inf") if ours > 0 else float("nan")


def compare(seeds: list[dict]) -> dict:
    """Means over seeds, ratios and wins, all from the per-seed numbers above."""
    methods = list(seeds[0]["methods"])
    mean = {m: {k: float(np.nanmean([s["methods"][m][k] for s in seeds])) if not all(
        np.isnan(s["methods"][m][k]) for s in seeds) else float("nan") for k in ("f_score", "tau", "rho",
        "novel_shots_touched", "selected_in_repeats")} for m in methods}  # fmt: skip
    std = {m: float(np.std([s["methods"][m]["f_score"] for s in seeds])) for m in methods}
    learned = [m for m in methods if m in ("rl", "coverage", "attention", PRETRAINED, PAPER)]
    verdict = {}
    for m in learned:
        f, rand = mean[m]["f_score"], BASELINE.get(m, "random")
        verdict[m] = {
            "random": rand,
            "f_over_random": _ratio(f, mean[rand]["f_score"]),
            "f_over_uniform": _ratio(f, mean["uniform"]["f_score"]),
            "seeds_above_random": sum(s["methods"][m]["f_score"] > s["methods"][rand]["f_score"] for s in seeds),
            "seeds_above_uniform": sum(s["methods"][m]["f_score"] > s["methods"]["uniform"]["f_score"] for s in seeds),
            "seeds": len(seeds),
        }
        v = verdict[m]
        v["well_above_random"] = bool(v["f_over_random"] >= 1.5 and v["seeds_above_random"] == v["seeds"])
        v["above_uniform"] = bool(v["f_over_uniform"] > 1.0 and v["seeds_above_uniform"] > v["seeds"] / 2)
    return {"mean": mean, "std_f_score": std, "verdict": verdict,
            "ceiling_f_score": float(np.mean([s["ceiling_f_score"] for s in seeds]))}  # fmt: skip


def _num(x: float, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}"


def layout_section(name: str, r: dict, novel: int) -> list[str]:
    where = "other sample videos than the repeated ones" if name == "other-sources" else "any sample video"
    lines = [
        f"## Novel shots from {where} (layout `{name}`)",
        "",
        "| method | F-score (std over seeds) | Kendall tau | Spearman rho | novel shots touched "
        "| selected frames in repeats |",
        "|---|---|---|---|---|---|",
    ]
    for m, row in r["mean"].items():
        lines.append(f"| {m} | {_num(row['f_score'])} ({_num(r['std_f_score'][m])}) | {_num(row['tau'])} | "
                     f"{_num(row['rho'])} | {_num(row['novel_shots_touched'], 2)} of {novel} | "
                     f"{_num(row['selected_in_repeats'], 2)} |")  # fmt: skip
    lines += [f"| ceiling (whole budget in planted frames) | {_num(r['ceiling_f_score'])} | | | | 0 |", ""]
    for m, v in r["verdict"].items():
        lines.append(
            f"**{m}**: F {_num(v['f_over_random'], 2)}x {v['random']} (above it in {v['seeds_above_random']} of "
            f"{v['seeds']} seeds) and {_num(v['f_over_uniform'], 2)}x uniform (above it in "
            f"{v['seeds_above_uniform']} of {v['seeds']}): "
            + ("well above random" if v["well_above_random"] else "NOT well above random (needs 1.5x, every seed)")
            + (" and above uniform." if v["above_uniform"] else "; NOT above uniform (needs > 1x and most seeds).")
        )  # fmt: skip
    if all("keyframes" in sd for sd in r["seeds"]):
        n = r["seeds"][0]["keyframes"]["coverage"]
        lines += [
            "",
            f"Key frames instead of a length (`--keyframes`, N = the {n['asked']} distinct contents of "
            "each video): how many contents the key frames show, and how many of the novel ones, mean over "
            "seeds:",
            "",
            "| method | key frames | contents shown | novel contents shown |",
            "|---|---|---|---|",
        ]
        for m in r["seeds"][0]["keyframes"]:
            rows = [sd["keyframes"][m] for sd in r["seeds"]]
            lines.append(f"| {m} | {np.mean([x['keyframes'] for x in rows]):.1f} | "
                         f"{np.mean([x['contents'] for x in rows]):.1f} | {np.mean([x['novel'] for x in rows]):.1f} of "
                         f"{novel} |")  # fmt: skip
    lines += ["", "Per seed (F-score; tau):", "", "| seed | frames | planted | KTS shots | novel contents | "
              + " | ".join(r["mean"]) + " | ceiling |", "|---" * (6 + len(r["mean"])) + "|"]  # fmt: skip
    for sd in r["seeds"]:
        cells = [f"{_num(x['f_score'])}; {_num(x['tau'], 2)}" for x in sd["methods"].values()]
        novel_names = ", ".join(p["content"] for p in sd["plan"] if p["novel"])
        lines.append(f"| {sd['seed']} | {sd['frames']} | {sd['planted_frames']} | {sd['kts_shots']} | {novel_names} | "
                     + " | ".join(cells) + f" | {_num(sd['ceiling_f_score'])} |")  # fmt: skip
    return [*lines, "", *analysis(r), ""]


def analysis(r: dict) -> list[str]:
    """Where each learned row falls short of 1.5x its random row, and what the numbers say about why;
    then what each of the two default settings changes (all from the per-seed rows)."""
    seeds = r["seeds"]
    rl = [sd["methods"]["rl"] for sd in seeds]
    ranks = sum(x["mean_score_novel"] > x["mean_score_repeated"] for x in rl)
    tau_pos = sum(x["tau"] > 0 for x in rl)
    out = [
        f"rl scores planted frames above repeated ones on average in {ranks} of {len(seeds)} seeds "
        f"(tau > 0 in {tau_pos})."
    ]

    def shot_len(m: str, group: list[dict]) -> str:
        rows = [sd["methods"][m] for sd in group]
        return f"{np.mean([x['selected_frames'] / max(1, x['selected_shots']) for x in rows]):.0f}"

    def kts_range(group: list[dict]) -> str:
        return f"{min(sd['kts_shots'] for sd in group)}-{max(sd['kts_shots'] for sd in group)}" if group else "-"

    for m, v in r["verdict"].items():
        rand = v["random"]
        ratios = [_ratio(sd["methods"][m]["f_score"], sd["methods"][rand]["f_score"]) for sd in seeds]
        low = [sd for sd in seeds if not sd["methods"][m]["f_score"] > 1.5 * sd["methods"][rand]["f_score"]]
        high = [sd for sd in seeds if sd not in low]
        if not low:
            worst = int(np.argmin(ratios))
            out.append(f"{m} is above 1.5x {rand} in every seed (lowest: {ratios[worst]:.2f}x, seed "
                       f"{seeds[worst]['seed']}).")  # fmt: skip
            continue
        text = (
            f"{m} is not above 1.5x {rand} in seed(s) {', '.join(str(sd['seed']) for sd in low)}: F "
            + ", ".join(f"{sd['methods'][m]['f_score']:.3f} against {sd['methods'][rand]['f_score']:.3f}" for sd in low)
            + f"; there KTS made {', '.join(str(sd['kts_shots']) for sd in low)} shots (elsewhere {kts_range(high)}), "
            f"the selection kept shots of {shot_len(m, low)} frames on average (elsewhere "
            f"{shot_len(m, high) if high else '-'}), and "
            + ", ".join(f"{sd['methods'][m]['novel_shots_touched']}" for sd in low)
            + " of the novel shots were touched."
        )  # fmt: skip
        if m == PAPER and PAPER_RDIV in r["mean"]:
            sums = ", ".join(f"{sd['methods'][PAPER_RDIV]['f_score']:.3f}" for sd in low)
            text += f" With the same scores and shots, the sum-valued knapsack gives F {sums} in those seeds."
        out.append(text)
    if PAPER in r["mean"]:
        a, b = r["mean"]["rl"], r["mean"][PAPER]
        better = sum(sd["methods"]["rl"]["tau"] > sd["methods"][PAPER]["tau"] for sd in seeds)
        out.append(
            f"R_div over all pairs (the default) ranks the planted frames with Kendall tau {a['tau']:.3f}, the "
            f"paper's 20-step rule with {b['tau']:.3f} (the default higher in {better} of {len(seeds)} seeds): that "
            "rule lets DR-DSN pick repeats that are far apart without any diversity penalty."
        )
        m, d = r["mean"][MEAN_KNAPSACK]["f_score"], a["f_score"]
        wins = sum(sd["methods"]["rl"]["f_score"] > sd["methods"][MEAN_KNAPSACK]["f_score"] for sd in seeds)
        losses = sum(sd["methods"]["rl"]["f_score"] < sd["methods"][MEAN_KNAPSACK]["f_score"] for sd in seeds)
        out.append(
            f"The same default scores and shots through the mean-valued knapsack: F {m:.3f} against {d:.3f} "
            f"sum-valued (the sum higher in {wins} of {len(seeds)} seeds, lower in {losses}); the paper's scores "
            f"through the sum-valued knapsack: F {r['mean'][PAPER_RDIV]['f_score']:.3f} against "
            f"{b['f_score']:.3f} mean-valued."
        )
    return out


def _finite(obj: object) -> object:
    if isinstance(obj, float):
        return None if np.isnan(obj) or np.isinf(obj) else obj
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def write_report(report: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    s = report["settings"]
    lines = [
        "# `vap summarize`: planted ground truth",
        "",
        f"Command: `{report['command']}`  ",
        f"Machine: {report['machine']}  ",
        f"Date: {report['date']}; wall time {report['wall_s']} s",
        "",
        f"Per seed, one video spliced from {s['shot_seconds']} s shots of the sample footage (bikes, carphone, "
        f"Big Buck Bunny) and moving-digits renders, at {s['size']}, {FPS} fps: {s['repeated']} contents repeated "
        f"{s['appearances']} times each (exact copies) and {s['novel']} novel contents once each (the planted "
        f"summary; one repeated and one novel content are moving digits). Budget {s['ratio']:.0%} of the frames. "
        f"Features: {s['backbone']}; rl = DR-DSN, {s['epochs']} epochs, trained on each video, with the "
        "defaults of `vap summarize`: R_div over all pairs of picks (`max_distance=None`) and a knapsack "
        "valuing each shot by the sum of its sampled frames' scores (`--shot-value sum`). Random: uniform "
        f"random scores through the same KTS shots and the same sum-valued knapsack, {s['draws']} draws. "
        f"Uniform: the budget in evenly spaced {s['uniform_piece_seconds']} s pieces. "
        + (f"`{PAPER}`: DR-DSN trained with the paper's rule that picks more than 20 steps (10 s) apart count as "
           "fully dissimilar, and the TVSum/SumMe protocol's knapsack valuing a shot by the mean of its scores "
           f"(`--max-distance 20 --shot-value mean`); `{RANDOM_MEAN}`: random scores through that selection, "
           f"its baseline. Diagnostics, one setting away from the default: `{MEAN_KNAPSACK}` (the default's "
           f"scores and shots, mean-valued selection), `{PAPER_RDIV}` (the paper-settings run's scores and "
           "shots, sum-valued selection). " if s.get("diagnostics", True) else "")
        + (f"`{PRETRAINED}`: per seed, one DR-DSN policy ({s['epochs']} epochs) trained over the spliced videos "
           "of all the other seeds of the layout (leave one out), saved, and applied to this seed's video with "
           "`--method rl --checkpoint`. " if s.get("pretrained") else "")
        + "F: frame overlap with the planted frames; tau / rho: the "
        "score of each sampled frame against planted (1) / not (0). Seeds: " + ", ".join(map(str, s["seeds"])) + ".",
        "",
    ]  # fmt: skip
    for name, r in report["layouts"].items():
        lines += layout_section(name, r, s["novel"])
    lines += [report["notes"], ""]
    name = report["settings"].get("name", "summarize_proof")
    (out / f"{name}.md").write_text("\n".join(lines))
    (out / f"{name}.json").write_text(json.dumps(_finite(report), indent=1) + "\n")


NOTES = (
    "One run on a CPU shared with other jobs. Across the runs of this script made while writing its first "
    "version, every per-seed F-score was the same from run to run, but rl's scores were not bit-identical "
    "(Kendall tau of a seed moved by up to about 0.03), so compare F-scores across runs and tau only within "
    "one. The "
    "planted summary is the novel content; an ideal summary of such a video would also keep one instance of "
    "each repeated content, so the ceiling is not reached by a good summarizer either. The attention method "
    "is not part of the default run: an action model's temporal attention says which frames its classifier "
    "used, not which are novel, so it is no answer to this question (pass --attention-checkpoint to add it).\n\n"
    "**Why the default, `coverage`, scores near 0 here and is still the default.** This proof plants novelty: "
    "the answer is by construction the content that appears once, and the repeated contents fill 80% of the "
    "video. `coverage` shows what a video is made of, most of it first: at 15% of the length it keeps a part of "
    "each repeated content before any novel one, so its F-score against the novel frames is near 0. That is "
    "the answer a user asking what is in a video wants from the key frames, and what uniform sampling, "
    "PySceneDetect and ffmpeg's thumbnail are used for: with one key frame per content asked for (the table "
    "under each layout), its key frames show more of the contents than `rl`'s and as many of the novel ones. "
    "On real footage (docs/bench/keyframes.md) it covers the videos better than `rl` with fewer near-duplicates, "
    "in less time (no training per video). The novelty this proof measures is kept where it is asked for: "
    "`--method rl`, whose F-score here is the figure to compare with earlier runs."
)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    p.add_argument("--shot-seconds", type=float, default=2.0)
    p.add_argument("--repeated", type=int, default=2, help="contents that come back (default: %(default)s)")
    p.add_argument("--appearances", type=int, default=6, help="times each repeated content appears")
    p.add_argument("--novel", type=int, default=3, help="contents that appear once: the planted summary")
    p.add_argument("--ratio", type=float, default=0.15)
    p.add_argument("--uniform-piece-seconds", type=float, default=0.5, help="length of each uniform piece")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--draws", type=int, default=100)
    p.add_argument("--size", default="320x240", help="WxH of the spliced video")
    p.add_argument("--backbone", default="mobilenet_v2", help="mobilenet_v2 (ImageNet) or tiny (smoke runs)")
    p.add_argument("--attention-checkpoint", type=Path, default=None)
    p.add_argument("--no-diagnostics", dest="diagnostics", action="store_false",
                   help="skip the second rl run (the paper's settings) and the rows made from it")  # fmt: skip
    p.add_argument(
        "--layouts",
        nargs="+",
        choices=LAYOUTS,
        default=list(LAYOUTS),
        help="where novel shots come from (default: both, reported apart)",
    )
    p.add_argument("--pretrained", action="store_true",
                   help="add rl with a policy pre-trained on the other seeds' videos (leave one out)")  # fmt: skip
    p.add_argument("--name", default="summarize_proof", help="report file names in --out (default: %(default)s)")
    p.add_argument("--videos", type=Path, default=REPO / "datasets" / "samples")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "vap_summarize_proof")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    report = run(args)
    report.update(
        settings={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                  if k not in ("work", "out", "videos")},
        wall_s=round(time.perf_counter() - t0, 1),
        **provenance("research/summarization/summarize_proof.py", argv),
        notes=NOTES,
    )  # fmt: skip
    write_report(report, args.out)
    return report


if __name__ == "__main__":
    main()
