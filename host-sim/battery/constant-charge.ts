/**
 * The agent's battery reading against the truth at a constant true charge: the real Agent (link,
 * MQTT, reporter, monitor) on one virtual device whose cell is large enough that hours of its
 * drain barely move the charge, scored at every telemetry batch. Used by
 * test/battery/sampling-policy.test.ts and bench/battery-accuracy.bench.ts. Node-free.
 */
import { Agent } from "../../device/core/agent";
import { VirtualBroker } from "../broker/virtual-broker";
import { VirtualClock } from "../virtual/clock";
import { VirtualNetwork } from "../virtual/network";
import { virtualDevicePorts } from "../virtual-device";

const HOUR = 3_600_000;

export interface ConstantChargeOptions {
  seed: number;
  /** The true charge, ‰ of the cell. */
  startPermille: number;
  sampleIntervalMs: number;
  reportIntervalMs: number;
  /** Virtual time to run (8 h): 4,000 mAh makes that ~0.3 % of drain. */
  hours?: number;
  /** Batches made before this uptime are not scored (1 h: the median and average settle). */
  scoreAfterMs?: number;
}

export interface ConstantChargeResult {
  /** Reported pct minus the true % at the instant each scored batch was made. */
  errors: number[];
  /** Every alarm the device raised, as "level@pct%". */
  alarms: string[];
  /** The true charge (%) at the last scored batch. */
  truePct: number;
}

export function runAtConstantCharge(o: ConstantChargeOptions): ConstantChargeResult {
  const clock = new VirtualClock();
  const network = new VirtualNetwork(clock);
  new VirtualBroker(network).start();
  const device = virtualDevicePorts({
    seed: o.seed,
    clock,
    network,
    batteryModel: { capacityMah: 4000, startPermille: o.startPermille, capacityVariationPermille: 0 },
  });
  const scoreAfter = o.scoreAfterMs ?? HOUR;
  const r: ConstantChargeResult = { errors: [], alarms: [], truePct: 0 };
  const telemetry = { sampleIntervalMs: o.sampleIntervalMs, reportIntervalMs: o.reportIntervalMs };
  const agent = new Agent(device.ports, { deviceId: "dev-bat", brokers: ["mqtt://broker:1883"], telemetry }, (e) => {
    if (e.type === "battery" && e.event.type === "alarm") r.alarms.push(`${e.event.alarm}@${e.event.pct}%`);
    if (e.type !== "telemetry" || e.batch.uptimeMs < scoreAfter || e.batch.battery === undefined) return;
    r.truePct = device.battery.chargePermille() / 10;
    r.errors.push(e.batch.battery.pct - r.truePct);
  });
  agent.start();
  clock.advance((o.hours ?? 8) * HOUR);
  agent.stop();
  return r;
}
