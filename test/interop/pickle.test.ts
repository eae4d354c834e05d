import { expect } from 'chai';
import { FprlError } from '../../src/core/errors.js';
import { unpickle, refusedIn } from '../../src/interop/index.js';

/** Protocol-2 pickle bytes from opcodes written out by hand (so no Python runs here). */
const bytes = (...parts: (string | number[])[]) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : p)));

describe('the restricted unpickler', () => {
  it('reads dicts, lists, tuples, numbers, strings, booleans and None', () => {
    // {'a': [1, 2.5, True, None], 'b': ('x', -3)}
    const p = bytes(
      [0x80, 2],
      '}',
      '(',
      'X',
      [1, 0, 0, 0],
      'a',
      ']',
      '(',
      'K',
      [1],
      'G',
      [0x40, 4, 0, 0, 0, 0, 0, 0],
      [0x88],
      'N',
      'e',
      'X',
      [1, 0, 0, 0],
      'b',
      'X',
      [1, 0, 0, 0],
      'x',
      'J',
      [0xfd, 0xff, 0xff, 0xff],
      [0x86],
      'u',
      '.',
    );
    const v = unpickle(p, 'test') as Map<string, unknown>;
    expect(v.get('a')).to.deep.equal([1, 2.5, true, null]);
    expect(v.get('b')).to.deep.equal(['x', -3]);
  });

  it('never calls a global it does not know: builtins.eval comes back as an inert marker naming it', () => {
    // builtins.eval("__import__('os').system('echo pwned')")
    const p = bytes([0x80, 2], 'cbuiltins\neval\n', 'X', [8, 0, 0, 0], 'print(1)', [0x85], 'R', '.');
    const v = unpickle(p, 'test');
    expect(v).to.deep.equal({ kind: 'refused', global: 'builtins.eval' });
    expect([...refusedIn(v)]).to.deep.equal(['builtins.eval']);
  });

  it('refuses opcodes it does not implement and truncated input, naming the offset', () => {
    expect(() => unpickle(bytes([0x80, 2], 'I12\n', '.'), 'f.pt: data.pkl')).to.throw(
      FprlError,
      /unsupported pickle opcode 0x49 \(pickle offset 2\)/,
    );
    expect(() => unpickle(bytes([0x80, 2], 'X', [9, 0, 0, 0], 'ab'), 'f.pt')).to.throw(
      FprlError,
      /truncated/,
    );
  });
});
