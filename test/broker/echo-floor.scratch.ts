import { VirtualClock } from "../../host-sim/virtual/clock";
import { VirtualNetwork, type VirtualSocket } from "../../host-sim/virtual/network";
import { encodePublish } from "../../device/core/mqtt/codec";
const clock = new VirtualClock(); const net = new VirtualNetwork(clock);
net.listen("broker", 1883, (sock) => ({ onConnect() {}, onData() { sock.write(Uint8Array.of(0x40, 2, 0, 1)); }, onClose() {} }));
const devices = 10000, minutes = 30; const sockets: VirtualSocket[] = [];
const frame = encodePublish({ topic: "tether/dev1234/telemetry", payload: new Uint8Array(48), qos: 1, packetId: 1 });
for (let i = 0; i < devices; i++) sockets.push(net.connect({ host: "broker", port: 1883 }, { onConnect() {}, onData() {}, onClose() {} }) as VirtualSocket);
clock.advance(1000);
for (let i = 0; i < devices; i++) { const s = sockets[i]; const tick = () => { s.write(frame); clock.setTimeout(tick, 60000); }; clock.setTimeout(tick, Math.floor(i * 60000 / devices)); }
const c0 = process.cpuUsage(); clock.advance(minutes * 60000); const c = process.cpuUsage(c0);
console.log("echo floor cpu us/msg", ((c.user + c.system) / (devices * minutes)).toFixed(2));
