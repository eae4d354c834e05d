import {
  openCelebAMask,
  openLapaFolder,
  SyntheticFaces,
  type SyntheticFacesOptions,
} from '../src/data/index.js';
import { FprlError } from '../src/core/errors.js';
import { Registry } from '../src/core/registry.js';
import { Rng } from '../src/core/rng.js';
import type { Dataset } from '../src/core/types.js';
import { FaceParsingEnv, type FaceParsingEnvOptions } from './face-parsing.js';

/** Options of `makeEnv`: the env's own plus the dataset's (which ones apply depends on the id). */
export interface MakeEnvOptions extends Partial<Omit<FaceParsingEnvOptions, 'id' | 'dataset' | 'rng'>> {
  /** Seeds the env's streams (sampling, augmentation) when no `rng` is given. Default 0. */
  seed?: number;
  rng?: Rng;
  /** Dataset split. Default 'train'. */
  split?: 'train' | 'val' | 'test';
  /** Image side in pixels (synthetic: rendered size; folders: resized). Default 64 synthetic, 256 folders. */
  size?: number;
  /** SyntheticFaces-v0: number of faces (default 256) and the dataset seed (default 0). */
  count?: number;
  dataSeed?: number;
  /** SyntheticFaces-v0: 'easy' | 'medium' | 'hard' (default 'hard'); see SyntheticFacesOptions. */
  difficulty?: SyntheticFacesOptions['difficulty'];
  /** FaceParsing-v0 / CelebAMask-v0: the dataset folder (required). */
  root?: string;
  /** Folder datasets: skip unreadable files (with a warning) instead of failing. */
  skipBad?: boolean;
  /** Folder datasets: decoded-sample cache directory, or false. */
  cache?: string | false;
  onWarning?: (msg: string) => void;
  /**
   * A dataset the caller already opened (e.g. a sweep's split, shared by its runs): the env
   * serves it instead of opening one, and the dataset options above are not used.
   */
  dataset?: Dataset;
}

/** Environment ids -> async factories. Built-ins arrive with {@link registerBuiltinEnvs}. */
export const envRegistry = new Registry<Promise<FaceParsingEnv>, [MakeEnvOptions]>('env');

function envFrom(id: string, dataset: Dataset, o: MakeEnvOptions): FaceParsingEnv {
  return new FaceParsingEnv({
    ...o,
    id,
    dataset,
    batchSize: o.batchSize ?? 8,
    rng: o.rng ?? new Rng(o.seed ?? 0, `env/${id}`),
  });
}

function rootOf(id: string, o: MakeEnvOptions): string {
  if (!o.root) {
    throw new FprlError('needs the dataset folder', {
      where: `env '${id}'`,
      hint: 'pass { root: "/path/to/dataset" }',
    });
  }
  return o.root;
}

/** Register SyntheticFaces-v0, FaceParsing-v0 and CelebAMask-v0. Explicit and idempotent. */
/** A registry entry for an env over a data folder opened by `open` (a LaPa or CelebAMask-HQ reader). */
function folderEnv(
  name: string,
  description: string,
  open: typeof openLapaFolder,
): { name: string; description: string; create: (o: MakeEnvOptions) => Promise<FaceParsingEnv> } {
  return {
    name,
    description,
    create: async (o: MakeEnvOptions) =>
      envFrom(
        name,
        o.dataset ??
          (await open(rootOf(name, o), o.split ?? 'train', {
            size: o.size ?? 256,
            skipBad: o.skipBad,
            cache: o.cache,
            onWarning: o.onWarning,
          })),
        o,
      ),
  };
}

export function registerBuiltinEnvs(registry = envRegistry): void {
  const entries = [
    {
      name: 'SyntheticFaces-v0',
      description:
        "procedural faces with exact LaPa labels (no download); size 64, 256 faces, difficulty 'hard' by default",
      create: async (o: MakeEnvOptions) =>
        envFrom(
          'SyntheticFaces-v0',
          o.dataset ??
            new SyntheticFaces({
              size: o.size ?? 64,
              count: o.count ?? 256,
              seed: o.dataSeed ?? 0,
              split: o.split ?? 'train',
              difficulty: o.difficulty,
            }),
          o,
        ),
    },
    folderEnv(
      'FaceParsing-v0',
      'a LaPa-layout folder (root/{train,val,test}/{images,labels}), resized to size (256)',
      openLapaFolder,
    ),
    folderEnv(
      'CelebAMask-v0',
      'a CelebAMask-HQ folder mapped to the 11 LaPa classes, resized to size (256)',
      openCelebAMask,
    ),
  ];
  for (const e of entries) if (!registry.has(e.name)) registry.register(e);
}

/** Make a registered env: `await makeEnv('SyntheticFaces-v0', { batchSize: 4, seed: 1 })`. */
export async function makeEnv(id: string, opts: MakeEnvOptions = {}): Promise<FaceParsingEnv> {
  return envRegistry.create(id, opts);
}
