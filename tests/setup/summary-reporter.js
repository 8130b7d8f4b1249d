// Prints the plain `N passed, N failed` line CI reads, and keeps it in a file so .ci/run
// can repeat it as the very last line of its output.
const fs = require('node:fs');
const path = require('node:path');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const line = `${results.numPassedTests} passed, ${results.numFailedTests + results.numRuntimeErrorTestSuites} failed`;
    fs.writeFileSync(path.join(__dirname, '..', '..', '.jest-summary'), `${line}\n`);
    process.stderr.write(`\n${line}\n`);
  }
}
module.exports = SummaryReporter;
