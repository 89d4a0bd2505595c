/**
 * At most one call of `fn` per `ms`: the first at once, the last of a burst at the end of the interval.
 * Live readings arrive by the dozen each second; redrawing a layer for each would keep a phone's CPU busy.
 */
export function throttle(fn: () => void, ms: number): () => void {
  let last = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    if (timer) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) {
      last = Date.now();
      fn();
      return;
    }
    timer = setTimeout(() => {
      timer = undefined;
      last = Date.now();
      fn();
    }, wait);
  };
}
