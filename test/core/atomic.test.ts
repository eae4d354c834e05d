import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AtomicFile, writeFileAtomic, writeFileAtomicSync } from '../../src/core/atomic.js';
import { FprlError } from '../../src/core/errors.js';

const fsp = fs.promises;

describe('core: atomic writes (src/core/atomic.ts)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'fprl-atomic-'));
  });
  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('replaces a file, creating its folder, and leaves no temporary file', async () => {
    const file = path.join(dir, 'a', 'b.json');
    await writeFileAtomic(file, 'one');
    await writeFileAtomic(file, new TextEncoder().encode('two'));
    expect(await fsp.readFile(file, 'utf8')).to.equal('two');
    expect(await fsp.readdir(path.dirname(file))).to.deep.equal(['b.json']);
  });

  it('fsyncs the file before the rename and the folder after it', async () => {
    const file = path.join(dir, 'x.bin');
    const events: string[] = [];
    const open = fsp.open;
    fsp.open = (async (p: fs.PathLike, ...rest: unknown[]) => {
      const h = await (open as (...a: unknown[]) => Promise<fs.promises.FileHandle>)(p, ...rest);
      const name =
        String(p) === dir ? 'folder' : path.basename(String(p)).startsWith('x.bin.tmp-') ? 'temp' : 'other';
      const sync = h.sync.bind(h);
      h.sync = async () => {
        events.push(`sync ${name} (target ${fs.existsSync(file) ? 'in place' : 'absent'})`);
        await sync();
      };
      return h;
    }) as typeof fsp.open;
    try {
      await writeFileAtomic(file, 'data');
    } finally {
      fsp.open = open;
    }
    expect(events).to.deep.equal(['sync temp (target absent)', 'sync folder (target in place)']);
  });

  it('keeps the previous file when a write fails, with the disk-full hint and no temporary file', async () => {
    const file = path.join(dir, 'summary.json');
    await writeFileAtomic(file, 'old');
    const open = fsp.open;
    fsp.open = (async (p: fs.PathLike, ...rest: unknown[]) => {
      const h = await (open as (...a: unknown[]) => Promise<fs.promises.FileHandle>)(p, ...rest);
      h.writeFile = () =>
        Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
      return h;
    }) as typeof fsp.open;
    let error: unknown;
    try {
      await writeFileAtomic(file, 'new');
    } catch (e) {
      error = e;
    } finally {
      fsp.open = open;
    }
    expect(error).to.be.instanceOf(FprlError);
    expect((error as FprlError).where).to.equal(file);
    expect((error as FprlError).message).to.equal('cannot write: ENOSPC: no space left on device');
    expect((error as FprlError).hint).to.match(/the disk is full/);
    expect(await fsp.readFile(file, 'utf8')).to.equal('old');
    expect(await fsp.readdir(dir)).to.deep.equal(['summary.json']);
  });

  it('streams pieces at positions into a file that appears only on commit, or never after abort', async () => {
    const file = path.join(dir, 'cache.bin');
    const out = await AtomicFile.open(file);
    await out.write(Uint8Array.of(1, 2), 0);
    await out.write(Uint8Array.of(3), 2);
    expect(fs.existsSync(file)).to.equal(false);
    await out.commit();
    expect([...(await fsp.readFile(file))]).to.deep.equal([1, 2, 3]);
    const dropped = await AtomicFile.open(path.join(dir, 'dropped.bin'));
    await dropped.write('x');
    await dropped.abort();
    expect(await fsp.readdir(dir)).to.deep.equal(['cache.bin']);
  });

  it('writes synchronously too, naming the file when it cannot', () => {
    const file = path.join(dir, 'worker.cjs');
    writeFileAtomicSync(file, 'code');
    expect(fs.readFileSync(file, 'utf8')).to.equal('code');
    expect(fs.readdirSync(dir)).to.deep.equal(['worker.cjs']);
    const blocked = path.join(file, 'below-a-file.txt');
    expect(() => writeFileAtomicSync(blocked, 'x'))
      .to.throw(FprlError, /cannot write/)
      .with.property('where', blocked);
  });
});
