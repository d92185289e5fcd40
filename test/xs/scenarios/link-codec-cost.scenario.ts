// XS computrons of the MQTT codec on a telemetry PUBLISH: encoding it (QoS 1), and parsing
// it back byte-stream style (whole, and one byte per push, the worst fragmentation).
// Used by bench/mqtt.bench.ts; emits `<name> <number>` metric lines.
import type { ScenarioHost } from "../scenario-host";
import { encodePublish } from "../../../device/core/mqtt/codec";
import { MqttParser } from "../../../device/core/mqtt/parser";
import { BENCH_TOPIC, telemetryPayload } from "../../mqtt/bench-payload";

export function run(host: ScenarioHost): void {
  const payload = telemetryPayload(1);
  const N = 50;
  let packets = 0;
  host.meter();
  let bytes = encodePublish({ topic: BENCH_TOPIC, payload, qos: 1, packetId: 1 });
  const encodeFirst = host.meter();
  for (let i = 0; i < N; i++) bytes = encodePublish({ topic: BENCH_TOPIC, payload, qos: 1, packetId: 1 + i });
  const encodeWarm = Math.round(host.meter() / N);
  const parser = new MqttParser(() => packets++, (r) => { throw new Error(r); });
  const setup = host.meter();
  for (let i = 0; i < N; i++) parser.push(bytes);
  const parseWhole = Math.round(host.meter() / N);
  for (let i = 0; i < N; i++) for (let j = 0; j < bytes.length; j++) parser.push(bytes.subarray(j, j + 1));
  const parseBytewise = Math.round(host.meter() / N);
  if (packets !== 2 * N) throw new Error(`parsed ${packets} packets, expected ${2 * N}`);
  host.emit(`publish-bytes ${bytes.length}`);
  host.emit(`payload-bytes ${payload.length}`);
  host.emit(`encode-first ${encodeFirst}`);
  host.emit(`encode-warm ${encodeWarm}`);
  host.emit(`parser-setup ${setup}`);
  host.emit(`parse-whole ${parseWhole}`);
  host.emit(`parse-bytewise ${parseBytewise}`);
}
