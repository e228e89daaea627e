/**
 * Marvin32, the keyed hash Microsoft uses for the checksum of "common annotated security keys".
 * Works on 32-bit lanes with Math.imul-free arithmetic: only additions, xors and rotations, all `>>> 0`.
 */

const rotl = (x: number, n: number): number => ((x << n) | (x >>> (32 - n))) >>> 0;

/** Returns [p0, p1] after hashing `data` from the 64-bit `seed` (given as low and high 32-bit halves). */
function marvinState(data: Uint8Array, seedLow: number, seedHigh: number): [number, number] {
  let p0 = seedLow >>> 0;
  let p1 = seedHigh >>> 0;
  const block = () => {
    p1 = (p1 ^ p0) >>> 0;
    p0 = rotl(p0, 20);
    p0 = (p0 + p1) >>> 0;
    p1 = rotl(p1, 9);
    p1 = (p1 ^ p0) >>> 0;
    p0 = rotl(p0, 27);
    p0 = (p0 + p1) >>> 0;
    p1 = rotl(p1, 19);
  };
  const n = data.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const w = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) >>> 0;
    p0 = (p0 + w) >>> 0;
    block();
  }
  let tail: number;
  switch (n - i) {
    case 0:
      tail = 0x80;
      break;
    case 1:
      tail = 0x8000 | data[i];
      break;
    case 2:
      tail = 0x800000 | data[i] | (data[i + 1] << 8);
      break;
    default:
      tail = (0x80000000 | (data[i + 2] << 16) | data[i] | (data[i + 1] << 8)) >>> 0;
  }
  p0 = (p0 + tail) >>> 0;
  block();
  block();
  return [p0, p1];
}

/** Marvin32: the 32-bit hash `p0 ^ p1`. */
export function marvin32(data: Uint8Array, seed: bigint): number {
  const [p0, p1] = marvinState(data, Number(seed & 0xffffffffn), Number(seed >> 32n));
  return (p0 ^ p1) >>> 0;
}

/** Marvin64: the 64-bit hash `p1 << 32 | p0`; only used to check our implementation against the reference. */
export function marvin64(data: Uint8Array, seed: bigint): bigint {
  const [p0, p1] = marvinState(data, Number(seed & 0xffffffffn), Number(seed >> 32n));
  return (BigInt(p1) << 32n) | BigInt(p0);
}
