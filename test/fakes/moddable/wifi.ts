/**
 * Fake of Moddable's "wifi" (station mode): the constructor starts connecting and reports
 * "connect" then "gotIP", or "disconnect" when the access point is absent or the password is
 * wrong. `dropWifi()` takes the access point away from every live instance.
 */
import { world } from "./world";

type Message = "connect" | "gotIP" | "lostIP" | "disconnect";

const live = new Set<FakeWiFi>();

export default class FakeWiFi {
  static readonly gotIP = "gotIP";
  static readonly lostIP = "lostIP";
  static readonly connected = "connect";
  static readonly disconnected = "disconnect";
  static readonly Mode = { off: -5, none: 0, station: 1, accessPoint: 2 };
  static mode = 1;

  private closed = false;

  constructor(
    options: { ssid: string; password?: string },
    private readonly callback?: (message: Message) => void,
  ) {
    const w = world();
    live.add(this);
    w.onRestart.add(() => this.close());
    w.chipTimeout(() => {
      if (this.closed) return;
      if (w.wifi.available && options.ssid === w.wifi.ssid && (options.password ?? "") === w.wifi.password) {
        this.callback?.("connect");
        w.chipTimeout(() => {
          if (!this.closed && w.wifi.available) this.callback?.("gotIP");
        }, 200);
      } else {
        this.callback?.("disconnect");
      }
    }, 500);
  }

  close(): void {
    this.closed = true;
    live.delete(this);
  }

  /** @internal test control: the access point goes away. */
  static dropAll(): void {
    for (const wifi of [...live]) if (!wifi.closed) wifi.callback?.("disconnect");
  }
}

/** Test control: the access point disappears; live stations see "disconnect". */
export function dropWifi(): void {
  world().wifi.available = false;
  FakeWiFi.dropAll();
}
