// The component's entry point: componentize-qjs builds this file. The logic
// is in decide.js, which Node can import for the unit tests.
import * as host from "autoscaler:policy/host@0.2.0";
import { exportPolicy } from "autoscaler-sdk";
import { decide } from "./decide.js";

export const policy = exportPolicy(decide, { name: "session-aware-js", version: "0.1.0", host });
