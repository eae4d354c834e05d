#!/usr/bin/env python3
"""Reference trainer: the hybrid Face Transformer (torch_hybrid_bench.HybridSegmenter) on real faces.

Trains on a LaPa-layout folder (DIR/{train,val}/{images/*.jpg,labels/*.png}, labels are class ids
0..10, 255 = ignore) with the recipe of fprl's TypeScript trainer, so the two can be compared at
the same wall time on the same CPU:
images resized (Lanczos) to the preset size and scaled to v/127.5 - 1, labels resized nearest;
AdamW (lr 1e-3, weight decay 0.05), linear warmup then half a cosine down to min-lr-ratio * lr;
each epoch a seeded permutation cut into batches (the last one may be partial); horizontal flip
with probability 0.5 per sample (swapping left/right brows and eyes); class-weighted
cross-entropy ignoring 255; the global gradient norm clipped to 1; weight decay on tensors of
rank >= 2 only (as fprl's AdamW). Scored on the val split from one confusion matrix: logits resized
bilinearly to each label's native size (the headline) and, for reference, at the model size;
mean F1 over the foreground classes 1..10, mIoU over all 11, classes absent from both the
prediction and the truth left out of the means (null in the JSON).

Setup (Debian's build of PyTorch):  apt-get install -y python3-torch libopenblas0-pthread python3-pil
Run:  /usr/bin/python3 src/bench/torch_hybrid_train.py --data /work/shared/data/celebamask-lapa11 \\
          --minutes 10 --threads 2 --out runs/torch-hybrid-10min.json
Prints one JSON line on stdout, progress on stderr. OPENBLAS_NUM_THREADS is pinned to 1
(PyTorch's own pool gives the --threads).
"""
import os
import sys

os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import argparse, json, math, time  # noqa: E402
import numpy as np  # noqa: E402
import torch, torch.nn as nn, torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402
from torch_hybrid_bench import HybridSegmenter, PRESETS  # noqa: E402

CLASSES = 11
IGNORE = 255
DEFAULT_WEIGHTS = '0.1378,0.1632,1.3027,1.2878,1.7641,1.7662,0.5825,1.3058,1.5294,1.0117,0.1488'
FLIP_PERMUTATION = [0, 1, 3, 2, 5, 4, 6, 7, 8, 9, 10]
INTERMEDIATE_EVAL_LIMIT = 100
CALIBRATION_STEPS = 20


def read_image(path, size):
    img = Image.open(path).convert('RGB')
    native = img.size
    if img.size != (size, size):
        img = img.resize((size, size), Image.LANCZOS)
    x = np.asarray(img, dtype=np.float32) / 127.5 - 1
    return torch.from_numpy(x).permute(2, 0, 1), native


def read_label(path, image_path, image_size):
    arr = np.asarray(Image.open(path))
    if arr.ndim == 3:
        arr = arr[..., 0]
    if (arr.shape[1], arr.shape[0]) != image_size:
        raise SystemExit(f'label {path} is {arr.shape[1]}x{arr.shape[0]} but its image {image_path} '
                         f'is {image_size[0]}x{image_size[1]}')
    bad = (arr > CLASSES - 1) & (arr != IGNORE)
    if bad.any():
        raise SystemExit(f'label {path} holds value {int(arr[bad][0])}: expected class ids 0..{CLASSES - 1} '
                         f'or {IGNORE} (ignore)')
    return arr.astype(np.uint8)


def resize_label(arr, size):
    if arr.shape == (size, size):
        return arr
    return np.array(Image.fromarray(arr).resize((size, size), Image.NEAREST))


def load_split(root, split, size, limit):
    """Images [N,3,s,s]; labels at model size [N,s,s] (uint8) and at native size (list)."""
    img_dir, lab_dir = os.path.join(root, split, 'images'), os.path.join(root, split, 'labels')
    names = sorted(f for f in os.listdir(img_dir) if f.lower().endswith(('.jpg', '.jpeg', '.png')))
    if limit is not None:
        names = names[:limit]
    if not names:
        raise SystemExit(f'no images in {img_dir}')
    images, small, native = [], [], []
    for name in names:
        image_path = os.path.join(img_dir, name)
        label_path = os.path.join(lab_dir, os.path.splitext(name)[0] + '.png')
        if not os.path.isfile(label_path):
            raise SystemExit(f'image {image_path} has no label (expected {label_path})')
        x, image_size = read_image(image_path, size)
        arr = read_label(label_path, image_path, image_size)
        images.append(x)
        native.append(torch.from_numpy(arr))
        small.append(torch.from_numpy(resize_label(arr, size)))
    return torch.stack(images), torch.stack(small), native


def learning_rate(lr, step, total, warmup, min_ratio):
    if step < warmup:
        return lr * (step + 1) / warmup
    span = max(1, total - warmup - 1)
    progress = min(1.0, max(0.0, (step - warmup) / span))
    lr_min = lr * min_ratio
    return lr_min + (lr - lr_min) * 0.5 * (1 + math.cos(math.pi * progress))


def confusion(truth, pred):
    """[C,C] int64 counts, row = truth, column = prediction; ignore pixels left out."""
    keep = truth != IGNORE
    idx = truth[keep].long() * CLASSES + pred[keep].long()
    return torch.bincount(idx, minlength=CLASSES * CLASSES).reshape(CLASSES, CLASSES)


def scores(counts):
    counts = counts.double()
    tp, pred, truth = counts.diag(), counts.sum(0), counts.sum(1)
    # 0/0 (a class absent from both prediction and truth) is NaN and left out of the means.
    f1 = 2 * tp / (pred + truth)
    iou = tp / (pred + truth - tp)

    def nan_mean(v):
        v = v[~torch.isnan(v)]
        return v.mean().item() if len(v) else float('nan')

    total = counts.sum().item()
    return {'meanF1': nan_mean(f1[1:]), 'mIoU': nan_mean(iou),
            'pixelAccuracy': tp.sum().item() / total if total else float('nan'),
            'perClassF1': f1.tolist()}


def evaluate(model, images, small, native, limit=None):
    n = len(images) if limit is None else min(limit, len(images))
    at_native = torch.zeros(CLASSES, CLASSES, dtype=torch.int64)
    at_model = torch.zeros(CLASSES, CLASSES, dtype=torch.int64)
    model.eval()
    with torch.no_grad():
        for i in range(0, n, 16):
            logits = model(images[i:min(n, i + 16)])
            at_model += confusion(small[i:i + len(logits)], logits.argmax(1))
            for j in range(len(logits)):
                truth = native[i + j]
                up = F.interpolate(logits[j:j + 1], size=tuple(truth.shape), mode='bilinear', align_corners=False)
                at_native += confusion(truth, up[0].argmax(0))
    model.train()
    return scores(at_native), scores(at_model)


def clean(x):
    """Rounded, with NaN as null (JSON has no NaN)."""
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [clean(v) for v in x]
    if isinstance(x, float):
        return None if math.isnan(x) else round(x, 6)
    return x


def init_like_fprl(model):
    """fprl's initialisation of the same network (agents/vit/hybrid-net.ts, params.ts): convs as PyTorch
    (uniform +-1/sqrt(fan_in)), the patch embedding's bias 0, every Linear of the blocks xavier-uniform with
    zero bias, positions and the 1x1 head trunc-normal(0.02) with a zero head bias."""
    with torch.no_grad():
        model.embed.bias.zero_()
        nn.init.trunc_normal_(model.pos, std=0.02, a=-0.04, b=0.04)
        for layer in model.layers:
            for lin in (layer.self_attn.out_proj, layer.linear1, layer.linear2):
                nn.init.xavier_uniform_(lin.weight)
                lin.bias.zero_()
        nn.init.trunc_normal_(model.head.weight, std=0.02, a=-0.04, b=0.04)
        model.head.bias.zero_()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', required=True)
    ap.add_argument('--preset', default='hybrid-128', choices=sorted(PRESETS))
    ap.add_argument('--steps', type=int, help='training steps (or --minutes)')
    ap.add_argument('--minutes', type=float,
                    help='a training-time budget instead of --steps: the steps that fit, from the speed of the '
                         f'first {CALIBRATION_STEPS} (warm-up: the cosine part of the schedule is set from them)')
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--weight-decay', type=float, default=0.05)
    ap.add_argument('--warmup', type=int, default=50)
    ap.add_argument('--min-lr-ratio', type=float, default=0.05)
    ap.add_argument('--class-weights', default=DEFAULT_WEIGHTS)
    ap.add_argument('--flip', type=float, default=0.5)
    ap.add_argument('--grad-clip', type=float, default=1.0, help='global gradient norm limit, 0 = off (fprl: gradClip 1)')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--train-limit', type=int)
    ap.add_argument('--eval-limit', type=int)
    ap.add_argument('--eval-every', type=int, default=0)
    ap.add_argument('--init', choices=['torch', 'fprl'], default='torch',
                    help="weights' initialisation: PyTorch's defaults, or fprl's (agents/vit/hybrid-net.ts: "
                         'xavier-uniform linear layers with zero biases, trunc-normal 0.02 positions and head)')
    ap.add_argument('--out')
    a = ap.parse_args()
    if (a.steps is None) == (a.minutes is None):
        raise SystemExit('give --steps N or --minutes M (a training-time budget), not both or neither')
    if a.minutes is not None:
        if a.minutes <= 0:
            raise SystemExit(f'--minutes must be > 0 (got {a.minutes})')
        # A provisional total for the warm-up steps; set from their speed once they ran.
        a.steps = max(a.warmup, CALIBRATION_STEPS) + 1
    if a.out and os.path.exists(a.out):
        raise SystemExit(f'{a.out} already exists: not overwriting it (pick another --out or remove it)')
    if a.out:
        # Made now, not after a long run that would then fail to save.
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    weights = torch.tensor([float(w) for w in a.class_weights.split(',')])
    if len(weights) != CLASSES:
        raise SystemExit(f'--class-weights needs {CLASSES} numbers, got {len(weights)}')

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    preset = PRESETS[a.preset]
    size = preset['image']
    t = time.perf_counter()
    train_x, train_y, _ = load_split(a.data, 'train', size, a.train_limit)
    val_x, val_small, val_native = load_split(a.data, 'val', size, a.eval_limit)
    load_seconds = time.perf_counter() - t
    print(f'loaded {len(train_x)} train, {len(val_x)} val at {size}x{size} in {load_seconds:.1f}s',
          file=sys.stderr)

    model = HybridSegmenter(**preset)
    if a.init == 'fprl':
        init_like_fprl(model)
    # As fprl's AdamW (src/optim/optimizers.ts): decay only tensors of rank >= 2, not biases or norms.
    params = list(model.parameters())
    groups = [{'params': [p for p in params if p.dim() >= 2], 'weight_decay': a.weight_decay},
              {'params': [p for p in params if p.dim() < 2], 'weight_decay': 0.0}]
    opt = torch.optim.AdamW(groups, lr=a.lr)
    loss_fn = nn.CrossEntropyLoss(weight=weights, ignore_index=IGNORE)
    gen = torch.Generator().manual_seed(a.seed)
    swap = torch.arange(256, dtype=torch.uint8)
    swap[:CLASSES] = torch.tensor(FLIP_PERMUTATION, dtype=torch.uint8)
    order, cursor, seen, evals, train_seconds = None, 0, 0, [], 0.0
    model.train()
    t = time.perf_counter()
    step = 0
    while step < a.steps:
        if order is None or cursor >= len(order):
            order, cursor = torch.randperm(len(train_x), generator=gen), 0
        idx = order[cursor:cursor + a.batch]
        cursor += len(idx)
        seen += len(idx)
        x, y = train_x[idx], train_y[idx]
        flip = torch.rand(len(idx), generator=gen) < a.flip
        if flip.any():
            x[flip] = x[flip].flip(-1)
            y[flip] = swap[y[flip].flip(-1).long()]
        for group in opt.param_groups:
            group['lr'] = learning_rate(a.lr, step, a.steps, a.warmup, a.min_lr_ratio)
        opt.zero_grad()
        loss = loss_fn(model(x), y.long())
        loss.backward()
        if a.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.grad_clip)
        opt.step()
        done = step + 1
        if a.minutes is not None and done == CALIBRATION_STEPS:
            per_step = (time.perf_counter() - t) / done
            a.steps = max(done, int(a.minutes * 60 / per_step))
            print(f'{a.minutes} minutes at {per_step:.3f} s per step: {a.steps} steps', file=sys.stderr)
        if done % 20 == 0 or done == a.steps:
            elapsed = train_seconds + time.perf_counter() - t
            print(f'step {done}/{a.steps} loss {loss.item():.4f} {seen / elapsed:.2f} img/s '
                  f'{elapsed:.1f}s', file=sys.stderr)
        step = done
        if a.eval_every > 0 and done % a.eval_every == 0 and done < a.steps:
            train_seconds += time.perf_counter() - t
            native, _ = evaluate(model, val_x, val_small, val_native, INTERMEDIATE_EVAL_LIMIT)
            evals.append({'step': done, 'meanF1': native['meanF1']})
            print(f'eval at step {done}: meanF1 {native["meanF1"]:.4f}', file=sys.stderr)
            t = time.perf_counter()
    train_seconds += time.perf_counter() - t

    t = time.perf_counter()
    native, at_model = evaluate(model, val_x, val_small, val_native)
    eval_seconds = time.perf_counter() - t
    result = clean({
        'peer': f'pytorch-{torch.__version__}-cpu', 'preset': a.preset,
        'params': sum(p.numel() for p in model.parameters() if p.requires_grad),
        'steps': a.steps, 'minutes': a.minutes, 'batch': a.batch, 'threads': a.threads, 'seed': a.seed, 'lr': a.lr,
        'weightDecay': a.weight_decay, 'flip': a.flip, 'gradClip': a.grad_clip, 'trainSeconds': train_seconds,
        'loadSeconds': load_seconds, 'evalSeconds': eval_seconds,
        'trainImagesPerSecond': seen / train_seconds if train_seconds else float('nan'),
        'native': native, 'modelSize': at_model, 'evals': evals})
    line = json.dumps(result)
    print(line)
    if a.out:
        with open(a.out, 'x') as f:
            f.write(line + '\n')


if __name__ == '__main__':
    main()
