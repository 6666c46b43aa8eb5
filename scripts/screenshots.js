// `npm run screenshots`: PNGs of every sample workflow's canvas and of the AI Call's panel for
// the README, taken in the real n8n editor (headless Chromium, the browser suite's code) with the
// package installed from its npm tarball. Writes docs/<sample>.png and docs/ai-call-panel.png,
// each at most 200 KB, and prints the rendered sizes the layout model (scripts/workflows/layout.js)
// relies on. `npm run screenshots -- observability queue-monitor`: only those samples' canvases.
'use strict';
const { mkdirSync, mkdtempSync, readdirSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const editor = require('./editor-browser');
const { importSamples, installPackage, N8nApi, REPO_ROOT, startN8n } = require('./n8n-runtime');
const { startSimulator } = require(join(REPO_ROOT, 'dist/simulator'));

const KEY = 'sk-screenshots-0001';
const DOCS = join(REPO_ROOT, 'docs');
const PANEL = { file: 'sync-request-response.json', node: 'Answer (AI Call)' };

/** Sizes a person would check the layout model against, from one sample's measured canvas. */
function sizes(canvas) {
	const bodies = [
		...new Set(canvas.nodes.map((n) => `${Math.round(n.box.w)}×${Math.round(n.box.h)}`)),
	];
	const labels = canvas.nodes.filter((n) => n.label).map((n) => n.label);
	const handle = canvas.nodes.flatMap((n) => n.handleLabels);
	return {
		zoom: Number(canvas.zoom.toFixed(3)),
		nodeBoxes: bodies,
		nameBoxMaxWidth: Math.round(Math.max(...labels.map((l) => l.w))),
		handleLabelHeight: Math.round(Math.max(0, ...handle.map((h) => h.h))),
		stickies: canvas.stickies.map(
			(s) =>
				`${s.name}: ${Math.round(s.box.w)}×${Math.round(s.box.h)} (text ${s.textHeight} in ${s.visibleHeight})`,
		),
	};
}

async function main() {
	mkdirSync(DOCS, { recursive: true });
	const userFolder = mkdtempSync(join(tmpdir(), 'n8n-screenshots-'));
	let n8n;
	let sim;
	let browser;
	try {
		await installPackage(userFolder, { mode: 'pack' });
		sim = await startSimulator({ apiKeys: [KEY] });
		n8n = await startN8n({ userFolder });
		const api = new N8nApi(n8n.url);
		await api.setupOwner();
		const ai = await api.createCredential('AI Service', 'aiServiceApi', {
			provider: 'openai',
			baseUrl: sim.baseUrl,
			apiKey: KEY,
		});
		const rabbit = await api.createCredential('RabbitMQ', 'rabbitmq', {
			hostname: '127.0.0.1',
			port: 5672,
			username: 'guest',
			password: 'guest',
			vhost: '/',
		});
		const samples = await importSamples(api, {
			credentials: {
				aiServiceApi: { id: ai.id, name: 'AI Service' },
				rabbitmq: { id: rabbit.id, name: 'RabbitMQ' },
			},
			simUrl: sim.url,
			activate: () => false,
		});
		browser = await editor.launchEditorBrowser();
		const { page } = browser;
		await editor.signIn(page, n8n.url);
		const only = process.argv.slice(2);
		const files = readdirSync(join(REPO_ROOT, 'workflows')).filter(
			(f) => f.endsWith('.json') && (!only.length || only.includes(f.replace(/\.json$/, ''))),
		);
		for (const file of files.sort()) {
			const sample = samples.find((s) => s.file === file);
			if (!sample?.id) throw new Error(`${file} did not import: ${sample?.error}`);
			await editor.openWorkflow(page, n8n.url, sample.id);
			await editor.zoomToFit(page);
			const canvas = await editor.measureCanvas(page);
			const path = join(DOCS, file.replace(/\.json$/, '.png'));
			const png = await editor.canvasScreenshot(page, { path });
			const problems = editor.canvasProblems(canvas);
			process.stdout.write(
				`${path} ${png.length} bytes; ${problems.length} problems\n${JSON.stringify(sizes(canvas))}\n`,
			);
			for (const p of problems) process.stdout.write(`  ${p}\n`);
			// lines across names and labels: not failures, but what a person reading the PNG notices
			for (const c of editor.edgeCrossings(canvas))
				if (c.kind === 'text') process.stdout.write(`  (line across text) ${c.text}\n`);
		}
		const sample = samples.find((s) => s.file === PANEL.file);
		await editor.openWorkflow(page, n8n.url, sample.id);
		await editor.openNode(page, PANEL.node);
		const path = join(DOCS, 'ai-call-panel.png');
		const png = await editor.panelScreenshot(page, { path });
		process.stdout.write(`${path} ${png.length} bytes\n`);
	} finally {
		await browser?.close();
		await n8n?.stop();
		await sim?.close();
		rmSync(userFolder, { recursive: true, force: true });
	}
}

main().catch((error) => {
	process.stderr.write(`${error.stack ?? error}\n`);
	process.exit(1);
});
