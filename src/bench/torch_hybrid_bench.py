#!/usr/bin/env python3
"""Reference benchmark: the hybrid Face Transformer (agents/vit/hybrid.ts) in PyTorch on the CPU.

The same architecture layer for layer, so the parameter count equals fprl's (printed by both):
conv stem (conv3x3 stride 2, no bias, LayerNorm over channels, ReLU: 3->32->64->128), 2x2 patch
embedding to 1/16 tokens of dim 192 + learned positional embedding, 6 pre-norm
TransformerEncoderLayers (3 heads, mlp 768, ReLU, dropout 0.1), final LayerNorm, decoder stages
(nearest x2, concat the stem map of that resolution / the image, conv3x3 + channel LN + ReLU:
128, 64, 32, 16), 1x1 conv to 11 classes. Timed like ../../../shared/peer/torch_vit_bench.py:
cross-entropy + Adam 1e-3 training steps and argmax inference, random images and labels.

Setup (Debian's build of PyTorch):  apt-get install -y python3-torch libopenblas0-pthread
Run:  /usr/bin/python3 src/bench/torch_hybrid_bench.py --preset hybrid-128 --batch 8 --threads 1
Prints one JSON line in the shape of torch_vit_bench.py's (what src/bench/peer.ts parses).
OPENBLAS_NUM_THREADS is pinned to 1 (PyTorch's own pool gives the --threads).
"""
import os

os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

import argparse, json, time  # noqa: E402
import torch, torch.nn as nn, torch.nn.functional as F  # noqa: E402

BASE = dict(stem=(32, 64, 128), patch=2, dim=192, depth=6, heads=3, mlp=768, decoder=(128, 64, 32, 16))
PRESETS = {'hybrid-128': dict(BASE, image=128), 'hybrid-256': dict(BASE, image=256)}


class ConvNormReLU(nn.Module):
    """conv3x3 (padding 1, no bias) + LayerNorm over channels (as fprl's channelNorm) + ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.norm = nn.LayerNorm(cout)

    def forward(self, x):
        x = self.conv(x)
        return F.relu(self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))


class HybridSegmenter(nn.Module):
    def __init__(self, image, stem, patch, dim, depth, heads, mlp, decoder, classes=11):
        super().__init__()
        chans = [3, *stem]
        self.stem = nn.ModuleList([ConvNormReLU(chans[i], chans[i + 1], 2) for i in range(len(stem))])
        self.embed = nn.Conv2d(stem[-1], dim, patch, patch)
        grid = image // (2 ** len(stem) * patch)
        self.pos = nn.Parameter(torch.zeros(1, grid * grid, dim))
        self.layers = nn.ModuleList(
            [nn.TransformerEncoderLayer(dim, heads, mlp, 0.1, batch_first=True, norm_first=True) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        n = len(decoder)
        self.skips, stages, up = [], [], dim
        for j, cout in enumerate(decoder):
            level = n - 1 - j  # output at 1/2^level; skip: stem map `level` (0 = the image)
            skip = level if level <= len(stem) else -1
            self.skips.append(skip)
            stages.append(ConvNormReLU(up + (0 if skip < 0 else chans[skip]), cout, 1))
            up = cout
        self.decoder = nn.ModuleList(stages)
        self.head = nn.Conv2d(decoder[-1], classes, 1)

    def forward(self, x):
        maps = [x]
        for s in self.stem:
            maps.append(s(maps[-1]))
        t = self.embed(maps[-1])
        b, d, h, w = t.shape
        t = t.flatten(2).transpose(1, 2) + self.pos
        for layer in self.layers:
            t = layer(t)
        y = self.norm(t).transpose(1, 2).reshape(b, d, h, w)
        for skip, stage in zip(self.skips, self.decoder):
            y = F.interpolate(y, scale_factor=2, mode='nearest')
            if skip >= 0:
                y = torch.cat([y, maps[skip]], 1)
            y = stage(y)
        return self.head(y)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--preset', default='hybrid-128', choices=sorted(PRESETS))
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    p = PRESETS[a.preset]
    S = p['image']
    m = HybridSegmenter(**p)
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    x = torch.rand(a.batch, 3, S, S) * 2 - 1
    y = torch.randint(0, 11, (a.batch, S, S))

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()

    step(); step()
    t = time.perf_counter()
    for _ in range(a.steps):
        step()
    train = (time.perf_counter() - t) / a.steps
    m.eval()
    with torch.no_grad():
        m(x)
        t = time.perf_counter()
        for _ in range(a.steps):
            m(x).argmax(1)
        infer = (time.perf_counter() - t) / a.steps
    print(json.dumps({'peer': f'pytorch-{torch.__version__}-cpu', 'preset': a.preset, 'batch': a.batch,
                      'threads': a.threads, 'params': sum(q.numel() for q in m.parameters()),
                      'trainMsPerStep': round(train * 1000, 1), 'trainImagesPerSecond': round(a.batch / train, 2),
                      'inferImagesPerSecond': round(a.batch / infer, 2)}))


if __name__ == '__main__':
    main()
