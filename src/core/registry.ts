import { FprlError } from './errors.js';

/** An entry's factory plus what `list()` shows about it. */
export interface RegistryEntry<T, A extends unknown[]> {
  name: string;
  description: string;
  create: (...args: A) => T;
}

/**
 * Name -> factory. Registration is explicit (never a side effect of importing a file);
 * unknown and duplicate names are clear errors that list what is available. `E` is the entry
 * type, for registries whose entries say more than a factory (an agent kind's config schema).
 */
export class Registry<T, A extends unknown[] = [], E extends RegistryEntry<T, A> = RegistryEntry<T, A>> {
  private readonly entries = new Map<string, E>();

  constructor(readonly kind: string) {}

  register(entry: E, opts: { replace?: boolean } = {}): void {
    if (this.entries.has(entry.name) && !opts.replace) {
      throw new FprlError(`a ${this.kind} named '${entry.name}' is already registered`, {
        where: `${this.kind} '${entry.name}'`,
        hint: `choose another name, or pass { replace: true } to override it`,
      });
    }
    this.entries.set(entry.name, entry);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  get(name: string): E {
    const entry = this.entries.get(name);
    if (!entry) {
      throw new FprlError(`unknown ${this.kind} '${name}'`, {
        where: `${this.kind} '${name}'`,
        hint: `registered ${this.kind}s: ${this.names().join(', ') || '(none)'}`,
      });
    }
    return entry;
  }

  create(name: string, ...args: A): T {
    return this.get(name).create(...args);
  }

  names(): string[] {
    return [...this.entries.keys()].sort();
  }

  list(): E[] {
    return this.names().map((n) => this.entries.get(n)!);
  }

  unregister(name: string): boolean {
    return this.entries.delete(name);
  }
}
