#!/usr/bin/env node
// Starts a JavaScript policy from the template:
//   node sdk/js/new-policy.js policies/NAME
// copies template/ to that folder, points its imports at this SDK from there,
// and names the policy after the folder. Refuses to overwrite existing files.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const sdk = dirname(fileURLToPath(import.meta.url));
const [dest] = process.argv.slice(2);
if (!dest || dest.startsWith("-")) {
  console.error("usage: node sdk/js/new-policy.js policies/NAME");
  process.exit(2);
}
const target = resolve(dest);
const name = basename(target);
if (!/^[a-z][a-z0-9-]*$/.test(name)) {
  console.error(`error: name the folder in kebab-case (a-z, 0-9, -), not "${name}": it becomes the policy's name`);
  process.exit(2);
}
const files = ["decide.js", "policy.js", "decide.test.js"];
const clash = files.filter((f) => existsSync(join(target, f)));
if (clash.length > 0) {
  console.error(`error: ${target} already has ${clash.join(", ")}; not overwriting`);
  process.exit(1);
}
mkdirSync(target, { recursive: true });
let toSdk = relative(target, sdk).split(sep).join("/");
if (!toSdk.startsWith(".")) toSdk = `./${toSdk}`;
for (const f of files) {
  const text = readFileSync(join(sdk, "template", f), "utf8")
    .replaceAll('"../autoscaler.js"', `"${toSdk}/autoscaler.js"`)
    .replaceAll('import("../autoscaler.js")', `import("${toSdk}/autoscaler.js")`)
    .replaceAll('"../testing.js"', `"${toSdk}/testing.js"`)
    .replaceAll('name: "my-policy"', `name: ${JSON.stringify(name)}`);
  writeFileSync(join(target, f), text);
}
console.log(`Created ${relative(process.cwd(), target) || "."}/{${files.join(",")}} for policy "${name}".`);
console.log(`Test it:  (cd ${dest} && node --test)`);
console.log("Build it: scripts/build-polyglot   (writes target/polyglot/" + name + ".wasm)");
