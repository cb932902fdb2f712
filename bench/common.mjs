// What the load generators (load.mjs, restart.mjs) share: output, timing and summaries.
export const now = () => performance.now();
export const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const FILLER = " Hei! Voisitteko auttaa tilaukseni kanssa, se ei ole vielä saapunut perille.";

// Runs work(0..count-1) with at most `concurrency` at a time; onDone(number done so far).
export async function pool(count, concurrency, work, onDone) {
  let next = 0, done = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      await work(i);
      done++;
      if (onDone) onDone(done);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

export function quantile(sorted, q) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export function summary(values) {
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length, p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95),
    p99: quantile(sorted, 0.99), max: sorted.length ? sorted[sorted.length - 1] : null,
  };
}
