'use strict';
// `npm run workflows`: writes workflows/<name>.json from scripts/workflows/<name>.js.
// `--check` exits 1 when a committed file differs (the unit tests run the same comparison).
const { readdirSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const SOURCES = join(__dirname, 'workflows');
const TARGET = join(__dirname, '..', 'workflows');

function buildAll() {
	return (
		readdirSync(SOURCES)
			// builder.js and layout.js are helpers, every other file is a sample
			.filter((f) => f.endsWith('.js') && !['builder.js', 'layout.js'].includes(f))
			.sort()
			.map((f) => {
				const workflow = require(join(SOURCES, f));
				return { file: `${workflow.file}.json`, text: `${JSON.stringify(workflow, null, '\t')}\n` };
			})
	);
}

if (require.main === module) {
	const check = process.argv.includes('--check');
	let stale = 0;
	for (const { file, text } of buildAll()) {
		const path = join(TARGET, file);
		let current = '';
		try {
			current = readFileSync(path, 'utf8');
		} catch {
			// new file
		}
		if (current === text) continue;
		if (check) {
			stale++;
			process.stderr.write(
				`workflows/${file} differs from scripts/workflows (run npm run workflows)\n`,
			);
		} else {
			writeFileSync(path, text);
			process.stdout.write(`wrote workflows/${file}\n`);
		}
	}
	process.exit(stale ? 1 : 0);
}

module.exports = { buildAll, SOURCES, TARGET };
