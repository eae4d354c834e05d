import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./fixtures/threads-child.ts', import.meta.url));

function runChild(threads: string | undefined): Promise<{ threads: number; sum: number; sumT: number }> {
  const env = { ...process.env };
  delete env.FPRL_WASM_THREADS;
  if (threads !== undefined) env.FPRL_WASM_THREADS = threads;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', CHILD],
      { env, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout));
      },
    );
  });
}

describe('wasm threads (FPRL_WASM_THREADS)', function () {
  this.timeout(120_000);

  it('runs the threaded build with the asked thread count, gives the same products, and lets the process exit', async () => {
    const [one, two] = await Promise.all([runChild(undefined), runChild('2')]);
    expect(one.threads).to.equal(1);
    expect(two.threads).to.equal(2);
    expect(two.sum).to.equal(one.sum);
    expect(two.sumT).to.equal(one.sumT);
  });

  it('refuses a thread count XNNPACK cannot have, naming the variable', async () => {
    try {
      await runChild('9');
      expect.fail('should have failed');
    } catch (e) {
      expect((e as Error).message).to.match(/FPRL_WASM_THREADS/);
    }
  });
});
