import { expect } from 'chai';
import type { BackendInfo } from '../../src/backend/backend.js';
import { describeEnvironment } from '../../src/experiment/environment.js';

const wasm: BackendInfo = {
  backend: 'wasm',
  provider: '@tensorflow/tfjs-backend-wasm',
  threads: 1,
  notes: [],
  matMul: 'native avx2+fma (build/Release/fprl_native.node)',
  tfjsVersion: '4.22.0',
};

describe('experiment: environment.json', () => {
  it('records which kernel ran the matMuls on wasm (native and XNNPACK numbers differ in rounding)', () => {
    const env = describeEnvironment({ backend: wasm, workers: 1, seeds: [0, 1] });
    expect(env.backend).to.deep.equal({
      name: 'wasm',
      provider: '@tensorflow/tfjs-backend-wasm',
      threads: 1,
      notes: [],
      matMul: 'native avx2+fma (build/Release/fprl_native.node)',
    });
    expect(env.seeds).to.deep.equal([0, 1]);
  });

  it('has no matMul entry on backends that do not report one', () => {
    const { matMul: _m, ...cpu } = { ...wasm, backend: 'cpu', provider: 'cpu' };
    const env = describeEnvironment({ backend: cpu, workers: 2, seeds: [0] });
    expect(env.backend).to.not.have.property('matMul');
    expect(env.workers).to.equal(2);
  });
});
