/**
 * The one check every command runs before it writes (docs/RELIABILITY.md, "Outputs never clobber
 * inputs or foreign files"): a target that is, contains or is inside one of the command's inputs
 * is refused (even with --force: that is never what a user means), and an existing non-empty
 * folder (or an existing file) that fprl did not make is refused unless --force is given.
 * fprl recognises its own folders by {@link OUTPUT_MARKER}, written when it creates one, and by
 * what older versions left there (a sweep's config.json + environment.json, an import's
 * fprl-import.json), passed in as `recognise`.
 */
import { promises as fs, realpathSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './atomic.js';
import { FprlError } from './errors.js';

/** The file that marks a folder as made by fprl: `{ command, createdAt }`. */
export const OUTPUT_MARKER = '.fprl-output.json';

export interface GuardOptions {
  /** The command that writes, e.g. `fprl predict`: named in messages and recorded in the marker. */
  command: string;
  /** The flag that names the target (default `--out`), for the message's hint. */
  flag?: string;
  /** Files and folders the command reads; the target must be none of them, nor hold or sit in one. */
  inputs: readonly (string | undefined)[];
  /** Write into (or over) a non-empty folder or an existing file that fprl did not make. */
  force?: boolean;
  /** 'dir' (default): the target is a folder; 'file': a single file. */
  kind?: 'dir' | 'file';
  /**
   * Other signs that fprl made a folder, for folders made before the marker: each entry is a
   * set of names that must all be present (e.g. `['config.json', 'environment.json']`).
   */
  recognise?: readonly (readonly string[])[];
  /** The command replaces the whole folder (deleting what is there) rather than writing into it. */
  replaces?: boolean;
  /** For a file target: whether an existing file is one this command wrote (e.g. its header). */
  ownsFile?: (file: string) => Promise<boolean>;
}

/** What the target was: nothing there, an empty folder, fprl's own, or someone else's (forced). */
export type GuardState = 'absent' | 'empty' | 'ours' | 'forced';

/** The real path of `p`, following links, for a path that may not exist yet (its parent's, joined). */
function realish(p: string): string {
  const abs = path.resolve(p);
  const rest: string[] = [];
  let at = abs;
  for (;;) {
    try {
      return path.join(realpathSync(at), ...rest.reverse());
    } catch {
      const parent = path.dirname(at);
      if (parent === at) return abs;
      rest.push(path.basename(at));
      at = parent;
    }
  }
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function refuseOverlap(target: string, opts: GuardOptions, fileInsideOk: boolean): void {
  const t = realish(target);
  const flag = opts.flag ?? '--out';
  for (const input of opts.inputs) {
    if (input === undefined) continue;
    const i = realish(input);
    const how =
      i === t
        ? `is the input ${input}`
        : inside(i, t)
          ? `contains the input ${input}`
          : inside(t, i) && !fileInsideOk
            ? `is inside the input ${input}`
            : undefined;
    if (how) {
      throw new FprlError(`${flag} ${how}: ${opts.command} would write over what it reads`, {
        where: target,
        hint: `choose a ${flag} outside every input (${opts.inputs.filter((x) => x !== undefined).join(', ')}); --force does not override this`,
      });
    }
  }
}

async function readMarker(dir: string): Promise<{ command?: string } | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(dir, OUTPUT_MARKER), 'utf8')) as { command?: string };
  } catch {
    return undefined;
  }
}

function listed(entries: readonly string[], max = 5): string {
  const shown = entries.slice(0, max).join(', ');
  return entries.length > max ? `${shown} and ${entries.length - max} more` : shown;
}

/**
 * Check `target` before `opts.command` writes there; throws an FprlError naming what would have
 * been overwritten and how to proceed. Call it before creating anything.
 */
export async function guardOutput(target: string, opts: GuardOptions): Promise<GuardState> {
  const flag = opts.flag ?? '--out';
  let stat;
  try {
    stat = await fs.stat(target);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // ENOTDIR: under a file; the writer's own error names it.
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
  }
  // A new file inside an input folder touches nothing (`fprl export RUN --out RUN/model.onnx`),
  // nor does one the command wrote there before; any other may be a file the command reads.
  const ownFile =
    opts.kind === 'file' && stat?.isFile() === true && opts.ownsFile !== undefined
      ? await opts.ownsFile(target).catch(() => false)
      : false;
  refuseOverlap(target, opts, opts.kind === 'file' && (stat === undefined || ownFile));
  if (stat === undefined) return 'absent';
  if ((opts.kind ?? 'dir') === 'file') {
    if (stat.isDirectory()) {
      throw new FprlError(`${flag} is a folder; ${opts.command} writes a file`, {
        where: target,
        hint: `give a file name, e.g. ${path.join(target, 'model.safetensors')}`,
      });
    }
    if (ownFile) return 'ours';
    if (opts.force) return 'forced';
    throw new FprlError(
      `${flag} is an existing file that ${opts.command} did not write: it would be overwritten`,
      {
        where: target,
        hint: `choose a new file name, or pass --force to overwrite it`,
      },
    );
  }
  if (!stat.isDirectory()) return 'absent'; // a file in the way: the writer's own error names it
  const entries = (await fs.readdir(target)).sort();
  if (entries.length === 0) return 'empty';
  const marker = entries.includes(OUTPUT_MARKER) ? await readMarker(target) : undefined;
  if (marker && (marker.command === undefined || marker.command === opts.command)) return 'ours';
  if (!marker && (opts.recognise ?? []).some((names) => names.every((n) => entries.includes(n))))
    return 'ours';
  if (opts.force) return 'forced';
  const whose = marker
    ? `a folder that ${marker.command} made`
    : `a non-empty folder that ${opts.command} did not make`;
  const act = opts.replaces ? 'replace it, deleting' : 'write into it, which holds';
  throw new FprlError(`${flag} is ${whose}; ${opts.command} would ${act} ${listed(entries)}`, {
    where: target,
    hint: `choose a new or empty folder, or pass --force to ${opts.replaces ? 'replace' : 'write into'} this one anyway (fprl marks the folders it makes with ${OUTPUT_MARKER})`,
  });
}

/** Mark `dir` (created if needed) as made by `command`, unless it is marked already. */
export async function markOutput(dir: string, command: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  if (await readMarker(dir)) return;
  await writeFileAtomic(
    path.join(dir, OUTPUT_MARKER),
    `${JSON.stringify({ command, createdAt: new Date().toISOString() })}\n`,
  );
}
