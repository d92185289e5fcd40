/**
 * The power-cut suite (power-cut-suite.ts) against ESP-IDF's otadata model
 * (host-sim/boot/esp-idf-*.ts): in-place rewrites, one trial boot. A cut during a trial boot must
 * not ban a good release (issue 11 item 2): the update still ends "updated".
 */
import { powerCutSuite } from "./power-cut-suite";

powerCutSuite("esp-idf", "test/ota/power-cut-esp-idf.test.ts", { update: "updated", rollback: "rolled-back" });
