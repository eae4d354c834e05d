/**
 * The Face Transformer as an ONNX graph (opset 17): the greedy parser, the same operations as
 * model.ts in the same order, so onnxruntime gives fprl's logits (test/interop checks 1e-4).
 *
 *   inputs:  image  [batch, S, S, 3] float32 (fprl's convention: NHWC, values in [-1, 1])
 *   outputs: logits [batch, S, S, C] float32;  labels [batch, S, S] int64 (argmax over classes)
 *
 * Patchify / unpatchify are Reshape + Transpose with a dynamic batch (-1); attention folds heads
 * into [batch, H, T, hd] and uses two batched MatMuls; LayerNormalization is opset 17's op.
 */
import { OnnxGraph, ONNX_FLOAT, ONNX_INT64, encodeModel } from '../../src/interop/onnx.js';
import { numTokens, type ViTConfig } from './config.js';
import { LAYER_NORM_EPS } from './config.js';
import { blockParamNames, paramSpecs } from './params.js';

export const ONNX_OPSET = 17;

/** The ModelProto bytes of the greedy parser; `values(name)` gives each variable (fprl layout). */
export function buildOnnxModel(c: ViTConfig, values: (name: string) => Float32Array): Uint8Array {
  const g = new OnnxGraph();
  const { imageSize: S, patchSize: P, dim: D, heads: H, numClasses: C } = c;
  const grid = S / P;
  const T = numTokens(c);
  const hd = D / H;
  const w = new Map(paramSpecs(c).map((s) => [s.name, s.shape]));
  const v = (name: string, shape?: number[]) => g.float(name, shape ?? w.get(name)!, values(name));
  const shape = (name: string, dims: number[]) => g.int64(name, dims);

  const image = g.input('image', ONNX_FLOAT, ['batch', S, S, 3]);
  // patchify: [B,S,S,3] -> [B*g, P, g, P*3] -> [B*g, g, P, P*3] -> [B*T, P*P*3]
  let x = g.op('Reshape', [image, shape('shape/rows', [-1, P, grid, P * 3])]);
  x = g.op('Transpose', [x], { perm: [0, 2, 1, 3] });
  x = g.op('Reshape', [x, shape('shape/tokens', [-1, T, P * P * 3])]);
  x = g.op('MatMul', [x, v('patch_embed/kernel', [P * P * 3, D])]);
  x = g.op('Add', [x, v('patch_embed/bias')]);
  if (c.posEmbedding) x = g.op('Add', [x, v('pos_embed')]);

  const ln = (y: string, gamma: string, beta: string) =>
    g.op('LayerNormalization', [y, v(gamma), v(beta)], {
      axis: -1,
      epsilon: { float: c.layerNormEps ?? LAYER_NORM_EPS },
    });
  const dense = (y: string, kernel: string, bias: string) =>
    g.op('Add', [g.op('MatMul', [y, v(kernel)]), v(bias)]);
  const headsShape = shape('shape/heads', [0, 0, H, hd]);
  const mergedShape = shape('shape/merged', [0, 0, D]);
  const split = shape('split/qkv', [D, D, D]);
  const scale = g.float('attn/scale', [], Float32Array.of(1 / Math.sqrt(hd)));
  // Exact GELU, 0.5 x (1 + erf(x / sqrt 2)) (ONNX's Gelu op needs opset 20).
  const half = g.float('gelu/half', [], Float32Array.of(0.5));
  const one = g.float('gelu/one', [], Float32Array.of(1));
  const rsqrt2 = g.float('gelu/rsqrt2', [], Float32Array.of(Math.SQRT1_2));
  const geluOf = (y: string) =>
    g.op('Mul', [g.op('Mul', [y, half]), g.op('Add', [one, g.op('Erf', [g.op('Mul', [y, rsqrt2])])])]);

  for (let i = 0; i < c.depth; i++) {
    const n = blockParamNames(i);
    const attention = (y: string) => {
      const qkv = dense(y, n.qkvKernel, n.qkvBias); // [B,T,3D]
      const [q, k, vv] = g.opN('Split', [qkv, split], 3, { axis: 2 });
      const heads = (t: string) =>
        g.op('Transpose', [g.op('Reshape', [t, headsShape])], { perm: [0, 2, 1, 3] });
      const qs = g.op('Mul', [heads(q), scale]);
      const kt = g.op('Transpose', [g.op('Reshape', [k, headsShape])], { perm: [0, 2, 3, 1] });
      const weights = g.op('Softmax', [g.op('MatMul', [qs, kt])], { axis: -1 });
      const ctx = g.op('Transpose', [g.op('MatMul', [weights, heads(vv)])], { perm: [0, 2, 1, 3] });
      return dense(g.op('Reshape', [ctx, mergedShape]), n.outKernel, n.outBias);
    };
    const act = (y: string) => (c.mlpActivation === 'gelu' ? geluOf(y) : g.op('Relu', [y]));
    const mlp = (y: string) => dense(act(dense(y, n.fc1Kernel, n.fc1Bias)), n.fc2Kernel, n.fc2Bias);
    if (c.normFirst) {
      x = g.op('Add', [x, attention(ln(x, n.norm1Gamma, n.norm1Beta))]);
      x = g.op('Add', [x, mlp(ln(x, n.norm2Gamma, n.norm2Beta))]);
    } else {
      x = ln(g.op('Add', [x, attention(x)]), n.norm1Gamma, n.norm1Beta);
      x = ln(g.op('Add', [x, mlp(x)]), n.norm2Gamma, n.norm2Beta);
    }
  }
  x = ln(x, 'norm/gamma', 'norm/beta');
  x = dense(x, 'proj/kernel', 'proj/bias');
  x = g.op('MatMul', [x, v('head/kernel', [D, P * P * C])]); // [B,T,P*P*C]
  // unpatchify: [B*g, g, P, P*C] -> [B*g, P, g, P*C] -> [B,S,S,C]
  x = g.op('Reshape', [x, shape('shape/blocks', [-1, grid, P, P * C])]);
  x = g.op('Transpose', [x], { perm: [0, 2, 1, 3] });
  x = g.op('Reshape', [x, shape('shape/pixels', [-1, S, S, C])]);
  g.op('Add', [x, v('head/bias')], undefined, 'logits');
  g.op('ArgMax', ['logits'], { axis: -1, keepdims: 0 }, 'labels');
  g.output('logits', ONNX_FLOAT, ['batch', S, S, C]);
  g.output('labels', ONNX_INT64, ['batch', S, S]);
  return encodeModel(g, {
    name: 'fprl-face-transformer',
    producer: 'face-parsing-rl',
    version: '0.1.0',
    opset: ONNX_OPSET,
  });
}
