// The component's entry point, which componentize-qjs builds. The logic is in
// decide.js, which Node imports for the unit tests (Node cannot import the host).
import * as host from "autoscaler:policy/host@0.2.0";
import { exportPolicy, numberParam } from "autoscaler-sdk";
import { decide } from "./decide.js";

// The parameters decide reads: the host checks the service's [params] against
// them when it loads the policy (unknown names, wrong types and values out of
// range are refused, naming the parameter) and fills in the defaults.
const params = [
  numberParam("cpu-high", 75, { min: 0, max: 100, doc: "Scale out when service CPU is over this, in percent." }),
  numberParam("cpu-low", 30, { min: 0, max: 100, doc: "Scale in when service CPU stays under this, in percent." }),
  numberParam("scale-in-window", 300, { min: 0, max: 86400, doc: "Seconds CPU must stay under cpu-low." }),
];

export const policy = exportPolicy(decide, { name: "my-policy", version: "0.1.0", host, params });
