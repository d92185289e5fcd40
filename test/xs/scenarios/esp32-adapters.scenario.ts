/**
 * Every Moddable port adapter (device/platform/moddable) against the fakes of the Moddable
 * modules (test/fakes/moddable), in one deterministic run. Bundled with the fakes aliased in
 * (test/esp32/bundle.ts) and run in XS and in Node by test/xs/esp32-adapters.test.ts, which
 * compares the traces and checks the expected lines. Any failed check throws: the run fails.
 */
import type { ScenarioHost } from "../scenario-host";
import { FakeRestart, FakeWorld, installWorld, uninstallWorld } from "../../fakes/moddable/world";
import { dropWifi } from "../../fakes/moddable/wifi";
import { FlashError, KvError, RollbackFailed, type SocketHandler } from "../../../device/ports";
import { ModdableClock } from "../../../device/platform/moddable/clock";
import { ModdableWallClock } from "../../../device/platform/moddable/wall-clock";
import { ModdableRandom } from "../../../device/platform/moddable/random";
import { PreferenceKv } from "../../../device/platform/moddable/kv";
import { ModdableFlash } from "../../../device/platform/moddable/flash";
import { moddableSha256 } from "../../../device/platform/moddable/sha256";
import { AnalogBattery } from "../../../device/platform/moddable/battery";
import { NetSensors } from "../../../device/platform/moddable/sensors";
import { EspSystem } from "../../../device/platform/moddable/system";
import { EspBootControl } from "../../../device/platform/moddable/boot";
import { ModdableNetwork } from "../../../device/platform/moddable/network";
import { SntpSync } from "../../../device/platform/moddable/sntp";
import { WifiLink } from "../../../device/platform/moddable/wifi";
import { UpdateWriter } from "../../../device/platform/moddable/update";
import { createTraceLog } from "../../../device/platform/moddable/log";

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`check failed: ${what}`);
}

function throwsWith<T extends Error>(fn: () => unknown, cls: new (...a: never[]) => T, what: string): T {
  try {
    fn();
  } catch (e) {
    if (e instanceof cls) return e;
    throw new Error(`${what}: expected ${cls.name}, got ${String(e)}`);
  }
  throw new Error(`${what}: expected ${cls.name}, nothing thrown`);
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function clockAndTimers(host: ScenarioHost): void {
  // Start just below the 32-bit tick wrap: now() must keep counting up through it.
  const w = installWorld(new FakeWorld({ clockStart: 0xffff_ff00 }));
  const clock = new ModdableClock();
  const order: string[] = [];
  const t0 = clock.now();
  clock.setTimeout(() => order.push("b"), 20);
  clock.setTimeout(() => order.push("a"), 10);
  const dead = clock.setTimeout(() => order.push("never"), 15);
  clock.clearTimeout(dead);
  clock.clearTimeout(9999); // unknown id: no-op
  clock.setTimeout(() => {
    order.push("c");
    clock.setTimeout(() => order.push("d"), 0);
  }, 300);
  w.clock.advance(400);
  const t1 = clock.now();
  check(t1 - t0 === 400, `now() advanced by ${t1 - t0}, expected 400 across the tick wrap`);
  check(t1 > 0xffff_ffff, "now() went past 2^32 instead of wrapping");
  check(clock.pending() === 0, "timers left pending");
  host.emit(`clock order=${order.join("")} advanced=${t1 - t0}`);
  uninstallWorld();
}

function wallClockAndSntp(host: ScenarioHost): void {
  const w = installWorld(new FakeWorld());
  const clock = new ModdableClock();
  const wall = new ModdableWallClock();
  check(wall.now() === undefined, "wall clock valid before SNTP");
  let synced = 0;
  w.sntp.available = false;
  const sntp = new SntpSync(clock, createTraceLog("debug"), "pool.ntp.org", () => synced++);
  sntp.start();
  w.clock.advance(1_000);
  check(!sntp.synced && wall.now() === undefined, "synced without a server");
  w.sntp.available = true;
  w.clock.advance(60_000);
  check(sntp.synced && synced === 1, "no sync after the retry");
  const now = wall.now();
  check(now !== undefined && now >= w.sntp.unixSeconds * 1000, "wall clock not set by SNTP");
  host.emit(`wallclock synced=${synced} unix=${Math.floor((now ?? 0) / 1000)} traces=${w.traces.length}`);
  sntp.stop();
  uninstallWorld();
}

function random(host: ScenarioHost): void {
  installWorld(new FakeWorld());
  const r = new ModdableRandom();
  for (let i = 0; i < 100; i++) {
    const v = r.nextU32();
    check(Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff, `nextU32 out of range: ${v}`);
  }
  const bytes = new Uint8Array(7).fill(0x5a);
  r.fill(bytes);
  check(bytes.every((b) => b >= 0 && b <= 255), "fill wrote non-bytes");
  host.emit("random ok");
  uninstallWorld();
}

function kv(host: ScenarioHost): void {
  const w = installWorld(new FakeWorld());
  w.nvsCapacity = 2_000;
  const store = new PreferenceKv();
  check(store.get("seq") === undefined, "fresh store not empty");
  store.set("seq", Uint8Array.of(1, 2, 3));
  store.set("boot", Uint8Array.of(9));
  const got = store.get("seq")!;
  got[0] = 77; // callers must not alias stored bytes
  check(hex(store.get("seq")!) === "010203", "value changed through an alias");
  check(store.keys().join(",") === "boot,seq", `keys ${store.keys().join(",")}`);
  const long = throwsWith(() => store.set("a-key-of-16-char", Uint8Array.of(1)), KvError, "16-char key");
  const big = throwsWith(() => store.set("big", new Uint8Array(4001)), KvError, "4001-byte value");
  store.set("max", new Uint8Array(1000));
  const full = throwsWith(() => store.set("more", new Uint8Array(1000)), KvError, "over capacity");
  check(hex(store.get("seq")!) === "010203", "a failed set lost stored data");
  // Moddable's preference erases the key before writing it: a rewrite that finds no room loses it.
  throwsWith(() => store.set("max", new Uint8Array(1950)), KvError, "over capacity, existing key");
  check(store.get("max") === undefined, "a failed rewrite kept the old value (xs_preference_set erases first)");
  store.delete("seq");
  store.delete("seq"); // twice: not an error
  check(store.get("seq") === undefined, "delete did not delete");
  // Foreign data in our namespace is reported, not returned as garbage.
  w.nvs.get("tether")!.set("str", "text");
  const foreign = throwsWith(() => store.get("str"), KvError, "string value");
  host.emit(`kv codes=${long.code},${big.code},${full.code},${foreign.code} keys=${store.keys().join(",")}`);
  uninstallWorld();
}

function flash(host: ScenarioHost): void {
  const w = installWorld(new FakeWorld());
  const boot = new EspBootControl();
  const f = new ModdableFlash(() => boot.runningSlot());
  const storage = f.open("storage");
  check(storage.blockSize === 4096 && storage.size === 0x8000, `storage geometry ${storage.size}/${storage.blockSize}`);
  storage.eraseBlock(1);
  storage.write(4096, Uint8Array.of(0xf0, 0x0f));
  storage.write(4096, Uint8Array.of(0x30, 0x0e)); // NOR: a second program only clears bits (0 -> 1 needs an erase)
  const nor = hex(storage.read(4096, 3));
  const range = throwsWith(() => storage.read(0x8000 - 1, 2), FlashError, "read past the end");
  const block = throwsWith(() => storage.eraseBlock(8), FlashError, "erase past the end");
  // The running slot is read-only; the other one is the writable "nextota".
  const running = f.open("ota_0");
  const ro = throwsWith(() => running.write(0, Uint8Array.of(0)), FlashError, "write to the running slot");
  check(running.read(0, 1)[0] === 0xe9, "running slot does not hold the factory image");
  const next = f.open("ota_1");
  next.eraseBlock(0);
  next.write(0, Uint8Array.of(1, 2));
  const otadata = f.open("otadata");
  const od = throwsWith(() => otadata.eraseBlock(0), FlashError, "erase otadata");
  check(w.flash.image("ota_1")[1] === 2, "nextota write did not land in ota_1");
  host.emit(`flash nor=${nor} codes=${range.code},${block.code},${ro.code},${od.code}`);
  uninstallWorld();
}

function sha256(host: ScenarioHost): void {
  installWorld(new FakeWorld());
  const h = moddableSha256.create();
  const all = ascii("xxabcxx");
  h.update(all.subarray(2, 3)); // a view into a larger buffer
  h.update(ascii("bc"));
  h.update(new Uint8Array(0));
  const d = hex(h.digest());
  check(d === "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", `sha256("abc") = ${d}`);
  let twice = false;
  try {
    h.digest();
  } catch {
    twice = true;
  }
  check(twice, "digest() twice did not throw");
  host.emit(`sha256 abc=${d.slice(0, 16)}`);
  uninstallWorld();
}

function batteryAndSensors(host: ScenarioHost): void {
  const w = installWorld(new FakeWorld());
  w.analog.set(35, 2482);
  const b = new AnalogBattery({ pin: 35, fullScaleMv: 6600 });
  const mv = Math.floor((b.read() * b.fullScaleMv) / 2 ** b.resolution);
  let badPin = false;
  try {
    new AnalogBattery({ pin: 4, fullScaleMv: 6600 });
  } catch {
    badPin = true;
  }
  check(badPin, "an unconfigured pin was accepted");
  const s = new NetSensors().sample();
  w.wifi.available = false;
  const offline = new NetSensors().sample();
  host.emit(`battery counts=${b.read()} res=${b.resolution} mv=${mv} rssi=${s.rssiDbm} offline=${JSON.stringify(offline)}`);
  uninstallWorld();
}

function systemAndBoot(host: ScenarioHost): void {
  const w = installWorld(new FakeWorld());
  const sys = new EspSystem();
  const boot = new EspBootControl();
  const f = new ModdableFlash(() => boot.runningSlot());
  const line = (tag: string) =>
    `${tag}: slot=${boot.runningSlot()} state=${boot.runningState()} other=${boot.slotState(boot.runningSlot() === 0 ? 1 : 0)} seq=${boot.recordSeq()} reset=${sys.resetReason()}`;
  host.emit(`boot ${line("factory")} rollback=${boot.rollbackAvailable()}`);

  // A bad image is refused by esp_ota_set_boot_partition.
  const next = new ModdableFlash(() => boot.runningSlot()).open("ota_1");
  for (let i = 0; i < next.size / next.blockSize; i++) next.eraseBlock(i);
  const refused = throwsWith(() => boot.setPending(1), Error, "set pending on a blank slot");
  host.emit(`boot refused=${refused.message.includes("ESP_ERR_OTA_VALIDATE_FAILED")}`);
  throwsWith(() => boot.setPending(0), Error, "set pending on the running slot");

  // Write an image to ota_1 through the flash adapter, make it the trial, restart.
  next.write(0, Uint8Array.of(0xe9, 0x76, 0x32));
  boot.setPending(1);
  host.emit(`boot ${line("pending")}`);
  const restarted = (fn: () => void): string => {
    try {
      fn();
    } catch (e) {
      if (e instanceof FakeRestart) return e.why;
      throw e;
    }
    return "no restart";
  };
  host.emit(`boot restart=${restarted(() => sys.restart())}`);
  host.emit(`boot ${line("trial")}`);
  boot.markValid();
  host.emit(`boot ${line("confirmed")}`);

  // A second update that never confirms itself: the bootloader aborts it on the next reset.
  const back = f.open("ota_0");
  check(back === f.open("ota_0"), "partition handle not cached");
  const nextAgain = new ModdableFlash(() => boot.runningSlot()).open("ota_0");
  for (let i = 0; i < nextAgain.size / nextAgain.blockSize; i++) nextAgain.eraseBlock(i);
  nextAgain.write(0, Uint8Array.of(0xe9, 0x76, 0x33));
  boot.setPending(0);
  restarted(() => sys.restart());
  host.emit(`boot ${line("trial2")}`);
  restarted(() => sys.restart()); // crashed before confirming
  host.emit(`boot ${line("aborted")}`);

  // A third trial that fails its health check rolls back explicitly.
  const third = new ModdableFlash(() => boot.runningSlot()).open("ota_0");
  for (let i = 0; i < third.size / third.blockSize; i++) third.eraseBlock(i);
  third.write(0, Uint8Array.of(0xe9, 0x76, 0x34));
  boot.setPending(0);
  restarted(() => sys.restart());
  host.emit(`boot ${line("trial3")}`);
  host.emit(`boot rollback=${restarted(() => boot.markInvalidAndRollback())}`);
  host.emit(`boot ${line("rolled-back")}`);

  // Nothing valid to go back to: RollbackFailed, no reboot loop.
  const noWayBack = throwsWith(() => boot.markInvalidAndRollback(), RollbackFailed, "rollback with the other slot invalid");
  host.emit(`boot no-way-back=${noWayBack.name} restarts=${w.restarts}`);

  // Moddable's simulator cannot restart: lin's System has no restart, and the common one's native
  // call is missing ("call: not a function"). A clear log line and the stop hook, once; no throw.
  const g = globalThis as { System?: unknown };
  const chipSystem = g.System;
  const sims: [string, unknown][] = [
    ["missing", {}],
    ["throws", { restart: () => { throw new TypeError("call: not a function"); } }],
    ["returns", { restart: () => undefined }],
  ];
  for (const [label, sim] of sims) {
    g.System = sim;
    const logged: string[] = [];
    let stops = 0;
    const simSys = new EspSystem((level, m) => logged.push(`${level} ${m}`));
    simSys.onRestartUnavailable = () => stops++;
    simSys.restart();
    simSys.restart();
    const clear = logged.length === 2 && logged.every((l) => l.startsWith("error system: restart requested but this runtime cannot restart (System.restart() ") && l.endsWith("the agent stops here, where a board would reboot"));
    host.emit(`sim-restart ${label} stops=${stops} clear-log=${clear} restarts=${w.restarts}`);
  }
  g.System = chipSystem;
  uninstallWorld();

  // A bootloader built without rollback: states read undefined and rollback is unavailable.
  installWorld(new FakeWorld({ rollback: false }));
  const plain = new EspBootControl();
  host.emit(`boot no-rollback available=${plain.rollbackAvailable()} state=${plain.runningState()}`);
  throwsWith(() => plain.markInvalidAndRollback(), RollbackFailed, "rollback without support");
  uninstallWorld();
}

function update(host: ScenarioHost): void {
  const w = installWorld(new FakeWorld());
  const boot = new EspBootControl();
  const writer = UpdateWriter.open();
  writer.write(Uint8Array.of(0xe9, 1, 2, 3));
  writer.write(new Uint8Array(5000).fill(7)); // crosses a sector: erased as it goes
  writer.complete();
  host.emit(`update slot=${boot.runningSlot()} next=${boot.slotState(1)} byte4999=${w.flash.image("ota_1")[5003]} seq=${boot.recordSeq()}`);
  const bad = UpdateWriter.open();
  bad.write(Uint8Array.of(0x00, 1));
  const refused = throwsWith(() => bad.complete(), Error, "complete a bad image");
  host.emit(`update bad=${refused.message}`);
  uninstallWorld();
}

/** Collects socket events as trace text. */
function recorder(name: string, events: string[], clock: { now(): number }): SocketHandler {
  return {
    onConnect: () => events.push(`${name}:connect@${clock.now()}`),
    onData: (b) => events.push(`${name}:data(${b.length})`),
    onClose: (r) => events.push(`${name}:close(${r})@${clock.now()}`),
  };
}

function tcp(host: ScenarioHost): void {
  const w = installWorld(new FakeWorld());
  const clock = new ModdableClock();
  const net = new ModdableNetwork(clock);
  w.dns.set("broker.lan", "10.0.0.5");
  const serverGot: number[] = [];
  let serverSock: { write(b: Uint8Array): number; close(): void } | undefined;
  w.network.listen("10.0.0.5", 1883, (sock) => {
    serverSock = sock;
    return {
      onConnect() {},
      onData(bytes) {
        for (const b of bytes) serverGot.push(b);
        sock.write(bytes); // echo
      },
      onClose() {},
    };
  });
  const events: string[] = [];
  let echoed = 0;
  const handler = recorder("c", events, w.clock);
  const s = net.connect({ host: "broker.lan", port: 1883 }, { ...handler, onData: (b) => (echoed += b.length) });
  // 5000 bytes before the connection exists, more than one onWritable window (2920).
  const big = new Uint8Array(5000);
  for (let i = 0; i < big.length; i++) big[i] = i & 0xff;
  const queued = s.write(big);
  w.clock.advance(200);
  const inOrder = serverGot.length === 5000 && serverGot.every((b, i) => b === (i & 0xff));
  check(inOrder, `server got ${serverGot.length} bytes, in order: ${inOrder}`);
  s.close();
  s.close(); // twice: one onClose
  w.clock.advance(50);
  host.emit(`tcp queued=${queued} delivered=${serverGot.length} echoed=${echoed} events=${events.join(" ")}`);

  // Peer closes: onClose once, with a reason.
  const ev2: string[] = [];
  net.connect({ host: "10.0.0.5", port: 1883 }, recorder("p", ev2, w.clock));
  w.clock.advance(50);
  serverSock!.close();
  w.clock.advance(50);
  // Nobody listening, and a name that does not resolve.
  const ev3: string[] = [];
  net.connect({ host: "10.0.0.9", port: 1883 }, recorder("r", ev3, w.clock));
  net.connect({ host: "nowhere.lan", port: 1883 }, recorder("d", ev3, w.clock));
  w.clock.advance(50);
  host.emit(`tcp peer=${ev2.join(" ")} fail=${ev3.join(" ")}`);
  uninstallWorld();
}

const CA_PEM = `-----BEGIN CERTIFICATE-----
AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=
-----END CERTIFICATE-----`;

function tls(host: ScenarioHost): void {
  const w = installWorld(new FakeWorld());
  const clock = new ModdableClock();
  const ca = new Uint8Array(32);
  for (let i = 0; i < 32; i++) ca[i] = i + 1;
  w.tlsServers.set("broker.example:8883", ca);
  let got = 0;
  w.network.listen("broker.example", 8883, (sock) => ({
    onConnect() {},
    onData(bytes) {
      got += bytes.length;
      sock.write(bytes.subarray(0, 4));
    },
    onClose() {},
  }));
  const events: string[] = [];
  // CA from the manifest resource (DER), as main.ts passes it.
  const withResource = new ModdableNetwork(clock, { defaultCa: ca.slice().buffer as ArrayBuffer });
  const a = withResource.connect({ host: "broker.example", port: 8883, tls: {} }, recorder("res", events, w.clock));
  a.write(new Uint8Array(3000).fill(1)); // more than the TLS socket's 2048-byte window
  w.clock.advance(100);
  a.close();
  // CA as PEM in the socket options.
  const plain = new ModdableNetwork(clock);
  plain.connect({ host: "broker.example", port: 8883, tls: { ca: CA_PEM } }, recorder("pem", events, w.clock));
  // The wrong CA, and none at all.
  plain.connect({ host: "broker.example", port: 8883, tls: { ca: CA_PEM.replace("AQID", "BQID") } }, recorder("bad", events, w.clock));
  plain.connect({ host: "broker.example", port: 8883, tls: {} }, recorder("none", events, w.clock));
  w.clock.advance(100);
  host.emit(`tls server-got=${got} events=${events.join(" ")}`);
  uninstallWorld();
}

function wifi(host: ScenarioHost): void {
  const w = installWorld(new FakeWorld());
  const clock = new ModdableClock();
  const log: string[] = [];
  const link = new WifiLink(clock, (l, m) => log.push(`${l}:${m}`), { ssid: "tether-lab", password: "secret" }, {
    onUp: () => log.push(`UP@${w.clock.now()}`),
    onDown: () => log.push(`DOWN@${w.clock.now()}`),
  });
  link.start();
  w.clock.advance(1_000);
  dropWifi();
  w.clock.advance(5_000); // retries fail while the AP is gone
  w.wifi.available = true;
  w.clock.advance(20_000);
  check(link.isUp, "wifi did not come back");
  link.stop();
  host.emit(`wifi ${log.filter((l) => !l.startsWith("info:") && !l.startsWith("warn:")).join(" ")}`);
  uninstallWorld();
}

export function run(host: ScenarioHost): void {
  clockAndTimers(host);
  wallClockAndSntp(host);
  random(host);
  kv(host);
  flash(host);
  sha256(host);
  batteryAndSensors(host);
  systemAndBoot(host);
  update(host);
  tcp(host);
  tls(host);
  wifi(host);
  host.emit("done");
}
