'use strict';
// `npm run demo` and `npm run dev`: real n8n 2.41.1 with this package, the AI service simulator,
// an owner account, an "AI Service (simulator)" credential, and the sample workflows imported.
//   demo: the package installed from its npm tarball, a fresh user folder each time.
//   dev:  the checkout symlinked, a user folder kept in .n8n-dev/ (rebuild and restart to see changes).
const {
	mkdtempSync,
	mkdirSync,
	readdirSync,
	readFileSync,
	existsSync,
	rmSync,
} = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const { installPackage, startN8n, N8nApi, REPO_ROOT } = require('./n8n-runtime');

const dev = process.argv.includes('--dev');
const n8nPort = Number(process.env.N8N_PORT ?? 5678);
const simPort = Number(process.env.AI_SIM_PORT ?? 8787);
const out = (msg) => process.stdout.write(`${msg}\n`);

async function main() {
	const { startSimulator } = require(join(REPO_ROOT, 'dist/simulator'));
	const userFolder = dev
		? join(REPO_ROOT, '.n8n-dev')
		: mkdtempSync(join(tmpdir(), 'n8n-ai-patterns-demo-'));
	mkdirSync(userFolder, { recursive: true });
	await installPackage(userFolder, { mode: dev ? 'link' : 'pack' });
	const sim = await startSimulator({ port: simPort, apiKeys: ['sim-key'] });
	const n8n = await startN8n({ userFolder, port: n8nPort });

	const stop = async () => {
		await n8n.stop();
		await sim.close();
		if (!dev) rmSync(userFolder, { recursive: true, force: true });
		process.exit(0);
	};
	process.on('SIGINT', stop);
	process.on('SIGTERM', stop);

	const api = new N8nApi(n8n.url);
	const owner = await api.setupOwner();
	const credential = await api.createCredential('AI Service (simulator)', 'aiServiceApi', {
		provider: 'openai',
		baseUrl: sim.baseUrl,
		apiKey: 'sim-key',
	});
	const workflowsDir = join(REPO_ROOT, 'workflows');
	const imported = [];
	for (const file of existsSync(workflowsDir)
		? readdirSync(workflowsDir).filter((f) => f.endsWith('.json'))
		: []) {
		const workflow = JSON.parse(readFileSync(join(workflowsDir, file), 'utf8'));
		for (const node of workflow.nodes ?? []) {
			if (node.credentials?.aiServiceApi)
				node.credentials.aiServiceApi = { id: credential.id, name: 'AI Service (simulator)' };
		}
		try {
			await api.importWorkflow(workflow, { activate: workflow.active !== false });
			imported.push(file);
		} catch (error) {
			out(`  could not import ${file}: ${error.message}`);
		}
	}

	out(`
n8n ${dev ? '(dev, package linked from the checkout)' : '(demo, package installed from its npm tarball)'} is running:
  editor:     ${n8n.url}   login ${owner.email} / ${owner.password}
  simulator:  ${sim.url}   (credential "AI Service (simulator)", key sim-key; counters at ${sim.url}/_sim/counters)
  workflows:  ${imported.length ? imported.join(', ') : 'none in workflows/ yet'}
  n8n log:    ${n8n.logFile}
Stop with Ctrl+C.`);
}

main().catch((error) => {
	process.stderr.write(`${error.stack ?? error.message}\n`);
	process.exit(1);
});
