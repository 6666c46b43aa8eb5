// Each test file gets its own throw-away n8n user folder (n8n-core writes settings and keys
// there), removed when the file is done: nothing is written to the real home folder.
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { TestEnvironment } = require('jest-environment-node');

class N8nTestEnvironment extends TestEnvironment {
	constructor(config, context) {
		super(config, context);
		this.userFolder = mkdtempSync(join(tmpdir(), 'n8n-ai-patterns-test-'));
		Object.assign(this.global.process.env, {
			N8N_USER_FOLDER: this.userFolder,
			N8N_ENCRYPTION_KEY: 'test-encryption-key',
			N8N_DIAGNOSTICS_ENABLED: 'false',
		});
	}

	async teardown() {
		await super.teardown();
		rmSync(this.userFolder, { recursive: true, force: true });
	}
}

module.exports = N8nTestEnvironment;
