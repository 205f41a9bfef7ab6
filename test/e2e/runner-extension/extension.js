// code-server cannot be given --extensionTestsPath, so this extension stands in for
// it: installed beside Phasic Trace Studio only by the e2e harness, it activates on
// startup and, when PHASIC_E2E_SUITE names a bundled suite (out/test/e2e/suite/index.js),
// runs it inside the same extension host and writes {passed, failed, skipped, failures} to the
// file PHASIC_E2E_RESULT names. The write is atomic (rename) so the harness never
// reads half a result.
const { renameSync, writeFileSync } = require('node:fs');

let started = false;

exports.activate = function activate() {
  const suite = process.env.PHASIC_E2E_SUITE;
  const resultFile = process.env.PHASIC_E2E_RESULT;
  if (!suite || !resultFile || started) return;
  started = true;
  // Outside activation, so the workbench finishes starting while the suite runs.
  setTimeout(async () => {
    let result;
    try {
      result = await require(suite).runMocha();
    } catch (error) {
      result = {
        passed: 0,
        failed: 1,
        skipped: 0,
        failures: [{ title: `loading ${suite}`, error: String(error?.stack || error) }],
      };
    }
    writeFileSync(`${resultFile}.partial`, JSON.stringify(result, null, 2));
    renameSync(`${resultFile}.partial`, resultFile);
  }, 0);
};

exports.deactivate = function deactivate() {};
