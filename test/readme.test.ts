import * as fs from "node:fs";
import * as path from "node:path";

// The README's testing recipe is examples/testing, which the suite runs (and scripts/consumer-check.sh
// runs from npm pack's tarballs): they must not drift apart.
const ROOT = path.join(__dirname, "..");
const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");

describe("the README", () => {
  test.each(["stack.ts", "stack.test.ts"])("GIVEN examples/testing/%s THEN the README shows it verbatim", (file) => {
    const source = fs.readFileSync(path.join(ROOT, "examples", "testing", file), "utf8").trimEnd();
    expect(readme).toContain(`\`examples/testing/${file}\``);
    expect(readme).toContain("```ts\n" + source + "\n```");
  });

  test("GIVEN its first commands THEN they are the ones .ci/run runs", () => {
    const ci = fs.readFileSync(path.join(ROOT, ".ci", "run"), "utf8");
    expect(readme).toMatch(/^npm ci && npm run synth /m);
    expect(ci).toMatch(/^npm ci\b/m);
    expect(ci).toMatch(/^npm run synth$/m);
  });
});
