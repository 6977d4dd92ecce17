// Work and libraries a server may never need, done or loaded at their first use
// (docs/ARCHITECTURE.md §5: what an idle server keeps in memory).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** `make()` at the first call, its result on every later one. */
export function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

/**
 * A library loaded at the first call. Through `require`, so a synchronous caller stays
 * synchronous; every library loaded this way has a CommonJS entry, and all of src/ reaches
 * it only through the getter, so one copy is loaded.
 */
export const lazyRequire = <T>(specifier: string): (() => T) => once(() => require(specifier) as T);
