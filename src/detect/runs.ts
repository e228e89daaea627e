/**
 * Finds maximal runs of bytes from one class that are at least `minLength` long, without looking at most
 * bytes: probe the last byte of the window where a run could end; if it is outside the class no run of that
 * length can contain it, so jump a whole window; otherwise scan backwards, and the first outside byte tells
 * where the next window can start. On source text this touches a small fraction of the bytes.
 */
export function forEachRun(
  bytes: Uint8Array,
  start: number,
  end: number,
  cls: Uint8Array,
  minLength: number,
  onRun: (runStart: number, runEnd: number) => void,
): void {
  let i = start + minLength - 1;
  while (i < end) {
    if (cls[bytes[i]] === 0) {
      i += minLength;
      continue;
    }
    const lo = i - minLength + 1;
    let j = i - 1;
    while (j >= lo && cls[bytes[j]] === 1) j--;
    if (j >= lo) {
      i = j + minLength;
      continue;
    }
    // A full window is inside the class: find the whole run (it may extend before `start` only when the
    // caller asked for a sub-range, so stop there).
    let s = lo;
    while (s > start && cls[bytes[s - 1]] === 1) s--;
    let e = i + 1;
    while (e < end && cls[bytes[e]] === 1) e++;
    onRun(s, e);
    // bytes[e] is outside the class (or the end): the next run starts after it.
    i = e + minLength;
  }
}
