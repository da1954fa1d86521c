import { ArmillariaError, InvalidArgumentError } from '@armillaria/core';
import type { Hasher } from './hasher.js';
import { NATIVE_ADDON_PATH, NativeHasher, nativeLoadError } from './native-hasher.js';
import { WasmHasher } from './wasm-hasher.js';

export interface LoadHasherOptions {
  /**
   * `native` (default): the addon when it loads, else the WASM fallback (unless ARMILLARIA_HASHER says
   * otherwise). `wasm`: always the fallback.
   */
  prefer?: 'native' | 'wasm';
}

export interface HasherInfo {
  /** What `loadHasher()` with default options returns. */
  readonly kind: 'native' | 'wasm';
  readonly nativeAvailable: boolean;
  /** Why the addon did not load (when it did not). */
  readonly nativeError?: string;
  readonly addonPath: string;
  /** The `ARMILLARIA_HASHER` setting in force, if any. */
  readonly forced?: 'native' | 'wasm';
}

/**
 * `ARMILLARIA_HASHER=wasm` forces the fallback (to test it, or to dodge a broken addon);
 * `ARMILLARIA_HASHER=native` makes a missing addon an error instead of a silent slowdown.
 */
function forcedKind(): 'native' | 'wasm' | undefined {
  const v = process.env.ARMILLARIA_HASHER;
  if (v === undefined || v === '') return undefined;
  if (v === 'native' || v === 'wasm') return v;
  throw new InvalidArgumentError(`ARMILLARIA_HASHER must be "native" or "wasm", got ${JSON.stringify(v)}`, {
    details: { key: 'ARMILLARIA_HASHER' },
  });
}

let wasm: Promise<WasmHasher> | undefined;

function loadWasm(): Promise<WasmHasher> {
  wasm ??= WasmHasher.load().catch((err: unknown) => {
    wasm = undefined;
    throw err;
  });
  return wasm;
}

/** The best available `Hasher` (see `LoadHasherOptions`); instances are shared and stateless between calls. */
export async function loadHasher(opts: LoadHasherOptions = {}): Promise<Hasher> {
  const prefer = opts.prefer ?? 'native';
  if (prefer !== 'native' && prefer !== 'wasm') {
    throw new InvalidArgumentError(`prefer must be "native" or "wasm", got ${JSON.stringify(prefer)}`);
  }
  const forced = forcedKind();
  // An explicit `prefer: 'wasm'` is a choice, not a fallback, so ARMILLARIA_HASHER=native does not override it.
  if (prefer === 'wasm' || forced === 'wasm') return loadWasm();
  if (forced === 'native') return NativeHasher.load();
  return nativeLoadError() ? loadWasm() : NativeHasher.load();
}

/** Which implementation is in use and, when the addon did not load, why. Never throws for a bad env value. */
export function hasherInfo(): HasherInfo {
  const error = nativeLoadError();
  let forced: 'native' | 'wasm' | undefined;
  try {
    forced = forcedKind();
  } catch (err) {
    if (!(err instanceof ArmillariaError)) throw err;
  }
  return {
    kind: forced ?? (error ? 'wasm' : 'native'),
    nativeAvailable: !error,
    addonPath: NATIVE_ADDON_PATH,
    ...(error ? { nativeError: error.message } : {}),
    ...(forced ? { forced } : {}),
  };
}
