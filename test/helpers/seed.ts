/** Seeds for randomized tests: SEED=n replays a run; failures print the replay command. */
export function testSeed(fallback?: number): number {
  const env = process.env.SEED;
  if (env !== undefined && env !== "") {
    if (!/^\d{1,10}$/.test(env) || Number(env) > 0xffffffff) throw new Error(`SEED must be an integer 0..4294967295, got "${env}"`);
    return Number(env);
  }
  return fallback ?? (Math.random() * 0x100000000) >>> 0;
}

export function withSeed<T>(seed: number, file: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const msg = `seed ${seed}; replay: SEED=${seed} npx vitest run ${file}`;
    if (e instanceof Error) e.message = `${e.message}\n${msg}`;
    console.error(msg);
    throw e;
  }
}
