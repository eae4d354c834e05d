/**
 * Writing ONNX models (onnx/onnx.proto, IR version 8, the default opset domain) with the
 * project's protobuf encoder: a graph is built node by node with {@link OnnxGraph}, and
 * {@link encodeModel} gives the `ModelProto` bytes. Only what a feed-forward float graph needs:
 * float and int64 initializers (raw_data), int/float/ints attributes, tensor inputs and outputs
 * with fixed or named (dynamic) dimensions.
 */
import { ProtoWriter } from './protobuf.js';
import { encodeFloat32LE } from './tensors.js';

/** TensorProto.DataType values. */
export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;

export type OnnxAttr = number | number[] | { float: number };

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, OnnxAttr>;
}

interface Initializer {
  name: string;
  dims: number[];
  type: number;
  raw: Uint8Array;
}

interface ValueInfo {
  name: string;
  type: number;
  /** A number: fixed size; a string: a named dynamic dimension (e.g. 'batch'). */
  dims: (number | string)[];
}

/** A graph under construction: initializers, nodes (in topological order), inputs and outputs. */
export class OnnxGraph {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: Initializer[] = [];
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  private counter = 0;

  /** A float32 constant. */
  float(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push({ name, dims, type: ONNX_FLOAT, raw: encodeFloat32LE(data) });
    return name;
  }

  /** An int64 constant (shapes for Reshape, split sizes). */
  int64(name: string, values: number[]): string {
    const raw = new Uint8Array(values.length * 8);
    const view = new DataView(raw.buffer);
    values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
    this.initializers.push({ name, dims: [values.length], type: ONNX_INT64, raw });
    return name;
  }

  /** Add a node with one output; returns the output's (generated) name. */
  op(op: string, inputs: string[], attrs?: Record<string, OnnxAttr>, name?: string): string {
    const out = name ?? `${op.toLowerCase()}_${this.counter++}`;
    this.nodes.push({ op, inputs, outputs: [out], attrs });
    return out;
  }

  /** Add a node with several outputs. */
  opN(op: string, inputs: string[], outputs: number, attrs?: Record<string, OnnxAttr>): string[] {
    const outs = Array.from({ length: outputs }, () => `${op.toLowerCase()}_${this.counter++}`);
    this.nodes.push({ op, inputs, outputs: outs, attrs });
    return outs;
  }

  input(name: string, type: number, dims: (number | string)[]): string {
    this.inputs.push({ name, type, dims });
    return name;
  }

  output(name: string, type: number, dims: (number | string)[]): void {
    this.outputs.push({ name, type, dims });
  }
}

function valueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, v.type);
      tensor.message(2, (shape) => {
        for (const d of v.dims)
          shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}

function attribute(w: ProtoWriter, name: string, a: OnnxAttr): void {
  w.string(1, name);
  if (Array.isArray(a)) {
    for (const v of a) w.int(8, v);
    w.int(20, 7); // INTS
  } else if (typeof a === 'number') {
    w.int(3, a);
    w.int(20, 2); // INT
  } else {
    w.float(2, a.float);
    w.int(20, 1); // FLOAT
  }
}

/** The ModelProto bytes of `graph` (opset `opset` of the default domain). */
export function encodeModel(
  graph: OnnxGraph,
  opts: { name: string; producer: string; version: string; opset: number },
): Uint8Array {
  const m = new ProtoWriter();
  m.int(1, 8); // ir_version
  m.string(2, opts.producer);
  m.string(3, opts.version);
  m.message(7, (g) => {
    for (const n of graph.nodes) {
      g.message(1, (node) => {
        for (const i of n.inputs) node.string(1, i);
        for (const o of n.outputs) node.string(2, o);
        node.string(3, n.outputs[0]);
        node.string(4, n.op);
        for (const [k, v] of Object.entries(n.attrs ?? {})) node.message(5, (a) => attribute(a, k, v));
      });
    }
    g.string(2, opts.name);
    for (const t of graph.initializers) {
      g.message(5, (tensor) => {
        for (const d of t.dims) tensor.int(1, d);
        tensor.int(2, t.type);
        tensor.string(8, t.name);
        tensor.bytes(9, t.raw);
      });
    }
    for (const v of graph.inputs) g.message(11, (w) => valueInfo(w, v));
    for (const v of graph.outputs) g.message(12, (w) => valueInfo(w, v));
  });
  m.message(8, (o) => {
    o.string(1, '');
    o.int(2, opts.opset);
  });
  return m.finish();
}
