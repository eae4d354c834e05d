/**
 * Where a JSON text stops being valid JSON. V8's JSON.parse messages give a position for
 * some errors and only a snippet for others, so a small scanner finds the offset itself
 * to report "line L, column C" for every syntax error. {@link parseJsonText} is the one reader
 * of user JSON (experiment files, agent configs, reward options): it drops a UTF-8 byte-order
 * mark, bounds the nesting depth before anything recurses, and names line and column.
 */
import { FprlError } from '../core/errors.js';

/** Deepest nesting of objects and arrays accepted in a config (ours need fewer than 10). */
export const MAX_JSON_DEPTH = 64;

/** The byte-order mark some editors write at the start of a UTF-8 file (U+FEFF). */
const BOM = 0xfeff;

/**
 * Offset of the first `{` or `[` that opens level `max + 1` (strings skipped), or -1. Linear and
 * without recursion, so it runs before anything that recurses over the value.
 */
export function jsonDepthOffset(text: string, max = MAX_JSON_DEPTH): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (ch === '{' || ch === '[') {
      if (++depth > max) return i;
    } else if (ch === '}' || ch === ']') depth--;
  }
  return -1;
}

/**
 * JSON.parse for text a user wrote: a leading byte-order mark is dropped; nesting deeper than
 * {@link MAX_JSON_DEPTH} and every syntax error are FprlErrors at `where` with line and column.
 */
export function parseJsonText(text: string, where: string): unknown {
  if (text.charCodeAt(0) === BOM) text = text.slice(1);
  const deep = jsonDepthOffset(text);
  if (deep >= 0) {
    const { line, column } = lineColumn(text, deep);
    throw new FprlError(`nested deeper than ${MAX_JSON_DEPTH} levels at line ${line}, column ${column}`, {
      where,
      hint: `a config nests a few levels; check for a runaway [ or {, or a file that is not a config`,
    });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const offset = jsonErrorOffset(text);
    const at = offset < 0 ? text.length : offset;
    const { line, column } = lineColumn(text, at);
    const near = text.slice(at, at + 20).split('\n')[0];
    const what = at >= text.length ? 'unexpected end of the text' : `unexpected ${visible(near)}`;
    throw new FprlError(`not valid JSON at line ${line}, column ${column}: ${what}`, {
      where,
      hint: 'check for a missing comma or quote, or a trailing comma (JSON allows none)',
      cause: e,
    });
  }
}

/** Offset of the first syntax error in `text`, or -1 when it is valid JSON. */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail();
  };
  const string = () => {
    i++; // opening quote
    while (i < text.length) {
      const ch = text[i];
      if (ch === '"') return void i++;
      if (ch === '\\') {
        const esc = text[i + 1];
        if (esc === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail();
          i += 6;
        } else if (esc !== undefined && '"\\/bfnrt'.includes(esc)) i += 2;
        else fail();
      } else if (ch < ' ') fail();
      else i++;
    }
    fail();
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) fail();
    i += m![0].length;
  };
  const value = (): void => {
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    } else if (ch === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    } else if (ch === '"') string();
    else if (ch === 't') literal('true');
    else if (ch === 'f') literal('false');
    else if (ch === 'n') literal('null');
    else number();
  };
  try {
    value();
    ws();
    return i < text.length ? i : -1;
  } catch (at) {
    // A RangeError (stack overflow) is no position: the scanner's own offset is the best there is.
    return typeof at === 'number' ? at : Math.min(i, text.length);
  }
}

/** A snippet quoted with invisible characters (byte-order mark, zero-width space) spelled out. */
function visible(snippet: string): string {
  return JSON.stringify(snippet).replace(
    /[\u007f-\u009f\u00ad\u200b-\u200f\u2028\u2029\u2060\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** 1-based line and column of an offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  return { line: before.split('\n').length, column: offset - before.lastIndexOf('\n') };
}
