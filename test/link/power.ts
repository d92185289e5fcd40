/**
 * A power domain for one virtual device: its clock and network go dead at a power cut, so the
 * abandoned objects of a "previous boot" can never run again (no graceful code, no timers,
 * no socket callbacks). Node-free so XS scenarios can use it.
 */
import type { Clock, Network, SocketHandler, SocketOptions, Socket, KeyValueStore } from "../../device/ports";


export class PowerDomain {
  alive = true;
  readonly clock: Clock;
  readonly network: Network;

  constructor(base: Clock, net: Network) {
    this.clock = {
      now: () => base.now(),
      setTimeout: (fn, ms) => base.setTimeout(() => this.alive && fn(), ms),
      clearTimeout: (id) => base.clearTimeout(id),
    };
    this.network = {
      connect: (o: SocketOptions, h: SocketHandler): Socket => {
        const guard: SocketHandler = {
          onConnect: () => this.alive && h.onConnect(),
          onData: (b) => this.alive && h.onData(b),
          onClose: (r) => this.alive && h.onClose(r),
        };
        const s = net.connect(o, guard);
        return { write: (b) => (this.alive ? s.write(b) : 0), close: () => this.alive && s.close() };
      },
    };
  }

  /** Power cut: nothing of this boot runs again; its sockets go silent (no FIN). */
  cut(): void {
    this.alive = false;
  }
}

/** A KV that loses power at its Nth mutation (set/delete), before applying it. */
export class CuttableKv implements KeyValueStore {
  ops = 0;
  cutAt = Infinity;
  constructor(readonly inner: KeyValueStore) {}
  private tick(): void {
    if (this.ops++ >= this.cutAt) throw new PowerCutError();
  }
  get(key: string) {
    return this.inner.get(key);
  }
  set(key: string, value: Uint8Array) {
    this.tick();
    this.inner.set(key, value);
  }
  delete(key: string) {
    this.tick();
    this.inner.delete(key);
  }
  keys() {
    return this.inner.keys();
  }
}

export class PowerCutError extends Error {
  constructor() {
    super("power cut");
    this.name = "PowerCutError";
  }
}
