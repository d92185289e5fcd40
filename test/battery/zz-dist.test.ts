import { it } from "vitest";
import { runBattery } from "../../host-sim/battery/battery-run";
it("dist", () => {
  const errs: number[] = [];
  for (let seed = 0; seed < 150; seed++) {
    const r = runBattery({ seed: seed * 977, telemetry: { sampleIntervalMs: 60_000, reportIntervalMs: 300_000 }, maxMs: 14 * 86400_000, wallSyncAfterMs: 30_000, outageEveryMs: 86400_000, outageMaxMs: 3600_000, reconnect: "backoff", monitor: { rateWindowMs: Number(process.env.W) * 3600_000 } });
    const truth = (r.brownoutAt! - r.midlife!.t) / 60000;
    errs.push((r.midlife!.timeToEmptyMin! - truth) / truth);
  }
  errs.sort((a, b) => a - b);
  const q = (p: number) => errs[Math.floor(p * (errs.length - 1))].toFixed(3);
  console.log("min", q(0), "p5", q(0.05), "p50", q(0.5), "p95", q(0.95), "max", q(1));
}, 120000);
