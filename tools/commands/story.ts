/**
 * `tether story` (what `npm start` runs): the fleet service's story on 200 virtual devices,
 * fast-forwarded, narrated one line per event, with the dashboard served while it runs.
 * Nothing to install; Ctrl-C stops everything and removes the temporary files.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Story } from "../../host-sim/fleet/story";
import { intFlag, parseFlags, UsageError } from "../args";

const HELP = `usage: tether story [--speed N] [--port P]

  --speed N   simulated seconds per real second (default 1440: a simulated day per minute)
  --port P    dashboard port on 127.0.0.1 (default 8080, or a free one if taken)
`;

const TICK_MS = 250;

export async function runStory(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { speed: { type: "string" }, port: { type: "string" }, help: { type: "boolean" } });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const speed = intFlag(values.speed, "speed", 1440, 1);
  const port = intFlag(values.port, "port", 8080, 0);
  const out = (line: string) => process.stdout.write(line + "\n");
  out("tether: 200 virtual devices (real agents) and the fleet service on an in-process broker; a simulated day per real minute");
  out("tether: building firmware 1.0.0, 1.1.0 (a bad release) and 1.1.1 (the fix)…");
  const dir = mkdtempSync(join(tmpdir(), "tether-story-"));
  const story = new Story({ dir, log: out });
  // A signal only raises the flag: the loop stops between steps, then everything closes once.
  let stopping = false;
  let wake: () => void = () => {};
  const stopped = new Promise<void>((r) => (wake = r));
  const onSignal = () => {
    stopping = true;
    wake();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await story.setup();
    let at: { url: string };
    try {
      at = await story.service.listen({ host: "127.0.0.1", port });
    } catch {
      at = await story.service.listen({ host: "127.0.0.1", port: 0 });
    }
    out(`tether: dashboard on ${at.url}/  (Ctrl-C to stop)`);
    while (!stopping && !story.done) {
      const t0 = performance.now();
      await story.advance(speed * TICK_MS);
      const left = TICK_MS - (performance.now() - t0);
      if (left > 0) await new Promise((r) => setTimeout(r, left));
    }
    if (!stopping) {
      out(`tether: the story is over (${Math.round(story.simMs / 86_400_000)} simulated days); the dashboard stays up until Ctrl-C`);
      await stopped;
    }
  } finally {
    await story.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return 0;
}
