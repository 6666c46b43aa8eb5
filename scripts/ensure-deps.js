'use strict';
// Runs before `npm test` and `npm run demo` (npm's pre-scripts), with whatever Node the machine
// has: installs the dependencies (Node 24 among them) when node_modules is missing or older than
// package-lock.json, so each of the README's two commands works on a fresh clone.
const { execSync } = require('node:child_process');
const { statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const mtime = (path) => {
	try {
		return statSync(path).mtimeMs;
	} catch {
		return 0;
	}
};
const installed = mtime(join(root, 'node_modules', '.package-lock.json'));
if (installed === 0 || installed < mtime(join(root, 'package-lock.json'))) {
	process.stderr.write('[ensure-deps] installing dependencies: npm ci\n');
	execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}
