/** Seeds for randomized tests: SEED=n replays a run; failures print the replay command. */
export function testSeed(): number {
  const env = process.env.SEED;
  return env !== undefined && env !== "" ? Number(env) >>> 0 : (Math.random() * 0x100000000) >>> 0;
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
