// The component's entry point, which componentize-qjs builds. The logic is in
// decide.js, which Node imports for the unit tests (Node cannot import the host).
import * as host from "autoscaler:policy/host@0.1.0";
import { exportPolicy } from "../autoscaler.js";
import { decide } from "./decide.js";

export const policy = exportPolicy(decide, { name: "my-policy", version: "0.1.0", host });
