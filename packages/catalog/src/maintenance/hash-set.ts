import { InvalidArgumentError, assertHash, type Hash } from '@armillaria/core';

const HASH_BYTES = 32;
const MAX_LOAD = 0.6;

/**
 * A set of BLAKE3 hashes stored as raw 32-byte keys in one growable Uint8Array (open addressing,
 * linear probing). GC's mark set: ~80 bytes per member at worst (32 / load factor plus the occupancy
 * byte), versus ~200 for a JS Set of 64-char strings, and no per-entry object for the collector to
 * trace. Hashes are uniformly random, so their first 4 bytes are a perfect slot index.
 */
export class HashSet {
  private keys: Uint8Array;
  private used: Uint8Array;
  private mask: number;
  private count = 0;
  /** Scratch buffer for the key being looked up (no allocation per call). */
  private readonly probe = new Uint8Array(HASH_BYTES);

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap * MAX_LOAD < initialCapacity) cap *= 2;
    this.keys = new Uint8Array(cap * HASH_BYTES);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by the table (for memory reports). */
  get byteLength(): number {
    return this.keys.byteLength + this.used.byteLength;
  }

  /** Adds `hash`; true when it was not yet a member. INVALID_HASH for anything but 64 lowercase hex. */
  add(hash: Hash): boolean {
    assertHash(hash);
    decodeHex(hash, this.probe);
    return this.addBytes(this.probe);
  }

  has(hash: string): boolean {
    if (hash.length !== 64) return false;
    decodeHex(hash, this.probe);
    return this.find(this.probe) >= 0;
  }

  /** Members packed back to back (32 bytes each), the persisted form of a mark set. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.count * HASH_BYTES);
    let o = 0;
    for (let slot = 0; slot <= this.mask; slot++) {
      if (this.used[slot] === 0) continue;
      out.set(this.keys.subarray(slot * HASH_BYTES, (slot + 1) * HASH_BYTES), o);
      o += HASH_BYTES;
    }
    return out;
  }

  static fromBytes(bytes: Uint8Array): HashSet {
    if (bytes.byteLength % HASH_BYTES !== 0) throw new InvalidArgumentError(`a packed hash set must be a multiple of ${HASH_BYTES} bytes long, got ${bytes.byteLength}`);
    const set = new HashSet(bytes.byteLength / HASH_BYTES);
    for (let o = 0; o < bytes.byteLength; o += HASH_BYTES) set.addBytes(bytes.subarray(o, o + HASH_BYTES));
    return set;
  }

  private slotOf(key: Uint8Array): number {
    return ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) & this.mask;
  }

  private find(key: Uint8Array): number {
    for (let slot = this.slotOf(key); ; slot = (slot + 1) & this.mask) {
      if (this.used[slot] === 0) return -1;
      if (this.equalsAt(slot, key)) return slot;
    }
  }

  private equalsAt(slot: number, key: Uint8Array): boolean {
    const base = slot * HASH_BYTES;
    for (let i = 0; i < HASH_BYTES; i++) if (this.keys[base + i] !== key[i]) return false;
    return true;
  }

  private addBytes(key: Uint8Array): boolean {
    if ((this.count + 1) > (this.mask + 1) * MAX_LOAD) this.grow();
    let slot = this.slotOf(key);
    for (; this.used[slot] !== 0; slot = (slot + 1) & this.mask) {
      if (this.equalsAt(slot, key)) return false;
    }
    this.keys.set(key, slot * HASH_BYTES);
    this.used[slot] = 1;
    this.count++;
    return true;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldUsed = this.used;
    const cap = (this.mask + 1) * 2;
    this.keys = new Uint8Array(cap * HASH_BYTES);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
    this.count = 0;
    for (let slot = 0; slot < oldUsed.length; slot++) {
      if (oldUsed[slot] !== 0) this.addBytes(oldKeys.subarray(slot * HASH_BYTES, (slot + 1) * HASH_BYTES));
    }
  }
}

function decodeHex(hex: string, out: Uint8Array): void {
  for (let i = 0; i < HASH_BYTES; i++) out[i] = (nibble(hex.charCodeAt(2 * i)) << 4) | nibble(hex.charCodeAt(2 * i + 1));
}

function nibble(c: number): number {
  return c <= 57 ? c - 48 : c - 87; // '0'-'9', 'a'-'f' (callers pass lowercase hex)
}
