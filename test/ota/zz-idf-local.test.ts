import { powerCutSuite } from "./power-cut-suite";
powerCutSuite("esp-idf", "test/ota/zz-idf-local.test.ts", { update: "either", rollback: "rolled-back" });
